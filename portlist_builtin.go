package vigil

// Built-in port lists. Written for Vigil from public, well-known port
// assignments (IANA registrations and vendors' own documentation of their
// default ports); nothing here is taken from another scanner's data files.

// BuiltinPortList is the definition of a read-only port list present in every
// organization. Key is stable across releases; sync matches on it.
type BuiltinPortList struct {
	Key     string
	Name    string
	Comment string
	Ranges  []PortRange
}

// commonTCPPorts are well-known TCP service ports, grouped by purpose.
var commonTCPPorts = []int{
	// classic Internet services
	1, 7, 9, 11, 13, 15, 17, 19, 20, 21, 22, 23, 25, 26, 37, 42, 43, 49, 53, 70, 79,
	80, 81, 82, 83, 84, 85, 88, 89, 90, 99, 102, 104, 106, 109, 110, 111, 113, 119,
	123, 135, 137, 139, 143, 161, 162, 179, 194, 199, 389, 427, 443, 444, 445, 458,
	464, 465, 497, 500, 502, 512, 513, 514, 515, 520, 524, 530, 540, 541, 543, 544,
	545, 548, 554, 563, 587, 591, 593, 623, 625, 631, 636, 646, 660, 666, 683, 687,
	691, 700, 705, 711, 749, 765, 777, 787, 800, 808, 843, 873, 880, 888, 898, 900,
	902, 903, 912, 981, 987, 990, 992, 993, 995, 999, 1000, 1010,
	// remote access, VPN, proxies
	1080, 1194, 1311, 1433, 1434, 1494, 1521, 1522, 1604, 1701, 1720, 1723, 1755,
	1801, 1812, 1813, 1863, 1883, 1900, 1935, 1947, 1984, 1993, 1999, 2000, 2001,
	2049, 2082, 2083, 2086, 2087, 2095, 2096, 2100, 2103, 2105, 2107, 2121, 2161,
	2181, 2222, 2301, 2375, 2376, 2379, 2380, 2381, 2401, 2480, 2483, 2484, 2598,
	2600, 2601, 2604, 2638, 2701, 2809, 2947, 2967, 3000, 3001, 3005, 3050, 3071,
	3128, 3260, 3268, 3269, 3283, 3306, 3310, 3333, 3350, 3372, 3388, 3389, 3396,
	3478, 3479, 3493, 3517, 3535, 3632, 3659, 3690, 3702, 3724, 3780, 3784, 3790,
	3868, 3872, 3899, 3986, 4000, 4001, 4040, 4045, 4063, 4064, 4100, 4125, 4190,
	4242, 4343, 4369, 4433, 4443, 4444, 4500, 4567, 4659, 4662, 4711, 4712, 4730,
	4786, 4840, 4848, 4899, 4911, 4993, 5000, 5001, 5002, 5003, 5004, 5005, 5006,
	5007, 5008, 5009, 5038, 5050, 5051, 5060, 5061, 5080, 5093, 5101, 5190, 5222,
	5223, 5269, 5280, 5298, 5353, 5357, 5400, 5405, 5431, 5432, 5433, 5500, 5555,
	5556, 5560, 5566, 5601, 5631, 5632, 5666, 5672, 5683, 5718, 5722, 5800, 5801,
	5802, 5803, 5810, 5815, 5900, 5901, 5902, 5903, 5904, 5905, 5906, 5938, 5984,
	5985, 5986, 6000, 6001, 6002, 6379, 6380, 6443, 6514, 6543, 6566, 6588, 6600,
	6646, 6660, 6661, 6662, 6663, 6664, 6665, 6666, 6667, 6668, 6669, 6679, 6697,
	6789, 6881, 6969, 7000, 7001, 7002, 7070, 7071, 7077, 7080, 7100, 7199, 7272,
	7396, 7443, 7474, 7547, 7654, 7777, 7778, 7800, 8000, 8001, 8002, 8008, 8009,
	8010, 8014, 8020, 8042, 8060, 8069, 8080, 8081, 8082, 8083, 8084, 8085, 8086,
	8087, 8088, 8089, 8090, 8091, 8092, 8093, 8096, 8098, 8099, 8100, 8118, 8123,
	8140, 8161, 8172, 8180, 8181, 8200, 8222, 8243, 8280, 8281, 8291, 8300, 8333,
	8400, 8443, 8444, 8445, 8484, 8500, 8530, 8531, 8545, 8649, 8686, 8765, 8800,
	8834, 8880, 8883, 8888, 8889, 8983, 8999, 9000, 9001, 9002, 9003, 9009, 9042,
	9043, 9050, 9060, 9080, 9081, 9090, 9091, 9092, 9093, 9100, 9160, 9200, 9300,
	9389, 9418, 9443, 9500, 9600, 9800, 9876, 9898, 9981, 9990, 9999, 10000,
	10001, 10050, 10051, 10080, 10243, 10250, 10255, 10443, 10809, 11211, 11214,
	11215, 12000, 12345, 13720, 13721, 13722, 14000, 15672, 16010, 16080, 16992,
	16993, 17000, 18080, 18091, 18092, 19999, 20000, 20720, 22222, 23023, 25565,
	26000, 27015, 27017, 27018, 27019, 28017, 30000, 31337, 32400, 32764, 37777,
	44818, 47001, 49152, 49153, 49154, 50000, 50030, 50070, 50075, 50090, 55553,
	60000, 61616, 62078,
}

// webPorts are ports where HTTP or HTTPS services commonly listen: standard
// ports, control panels, application servers, admin consoles and proxies.
var webPorts = []int{
	80, 81, 82, 83, 84, 85, 88, 443, 591, 593, 832, 981, 1010, 1311, 2082, 2083,
	2086, 2087, 2095, 2096, 2480, 3000, 3001, 3128, 3333, 4243, 4443, 4567, 4711,
	4712, 4848, 4993, 5000, 5104, 5108, 5601, 5800, 5984, 6443, 6543, 7000, 7001,
	7080, 7396, 7443, 7474, 8000, 8001, 8008, 8014, 8042, 8069, 8080, 8081, 8082,
	8083, 8088, 8090, 8091, 8118, 8123, 8172, 8180, 8181, 8222, 8243, 8280, 8281,
	8333, 8443, 8444, 8500, 8800, 8834, 8880, 8888, 8983, 9000, 9043, 9060, 9080,
	9090, 9091, 9200, 9443, 9800, 9981, 10000, 10443, 12443, 15672, 16080, 18091,
	18092, 20720, 28017,
}

// commonUDPPorts are UDP services worth probing: name, time, management,
// VPN, discovery and amplification-prone protocols.
var commonUDPPorts = []int{
	7, 9, 17, 19, 53, 67, 68, 69, 88, 111, 123, 135, 137, 138, 139, 161, 162, 177,
	389, 427, 443, 445, 464, 500, 514, 520, 623, 631, 1194, 1434, 1645, 1646,
	1701, 1812, 1813, 1900, 2049, 2302, 3283, 3389, 3478, 3702, 4500, 5060, 5353,
	5355, 5683, 6481, 10161, 11211, 17185, 20000, 27015, 47808,
}

// pciExternalUDPPorts are UDP services an internet-facing PCI scope must be
// checked for: name service, time, management and VPN endpoints, and the
// protocols abused for amplification.
var pciExternalUDPPorts = []int{
	19, 53, 69, 111, 123, 137, 161, 389, 443, 500, 1194, 1900, 3478, 4500, 5060,
	5353, 11211,
}

func allTCP() []PortRange { return []PortRange{{Start: 1, End: 65535, Protocol: TCP}} }

// BuiltinPortLists returns the definitions of the built-in port lists.
func BuiltinPortLists() []BuiltinPortList {
	return []BuiltinPortList{
		{Key: "all-tcp", Name: "All TCP", Comment: "Every TCP port, 1-65535.", Ranges: allTCP()},
		{Key: "all-tcp-common-udp", Name: "All TCP and common UDP",
			Comment: "Every TCP port and the common UDP services (DNS, NTP, SNMP, IKE, SIP, ...).",
			Ranges:  append(allTCP(), MergePorts(UDP, commonUDPPorts)...)},
		{Key: "common-tcp", Name: "Common TCP",
			Comment: "Well-known TCP service ports curated by Vigil: a fast first look.",
			Ranges:  MergePorts(TCP, commonTCPPorts)},
		{Key: "web", Name: "Web services",
			Comment: "Ports where HTTP and HTTPS services, control panels and admin consoles usually listen.",
			Ranges:  MergePorts(TCP, webPorts)},
		{Key: "pci-external", Name: "PCI external",
			Comment: "External PCI scans: every TCP port and the UDP services an internet-facing scope must be checked for.",
			Ranges:  append(allTCP(), MergePorts(UDP, pciExternalUDPPorts)...)},
	}
}

// FindBuiltinPortList returns the built-in list with the given key or name.
func FindBuiltinPortList(keyOrName string) (BuiltinPortList, bool) {
	for _, l := range BuiltinPortLists() {
		if l.Key == keyOrName || l.Name == keyOrName {
			return l, true
		}
	}
	return BuiltinPortList{}, false
}
