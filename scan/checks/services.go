package checks

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"strings"

	"github.com/vigilscan/vigil/scan"
)

const (
	familyFTP       = "FTP"
	familyDatastore = "Databases and caches"
)

func init() {
	register(
		&Check{ID: "vigil.ftp-anonymous", Name: "FTP anonymous login allowed", Family: familyFTP,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:N/A:N",
			Description: "The FTP server accepts the user \"anonymous\" with any e-mail address as password.",
			Impact:      "Anyone can read what the anonymous area holds, and write to it where uploads are allowed.",
			Solution:    "Disable anonymous access (vsftpd: anonymous_enable=NO) unless the server is a deliberate public mirror.",
			References:  []string{"https://cwe.mitre.org/data/definitions/284.html"},
			Evidence:    "the server's reply to PASS",
			Applies:     named("ftp"), Run: runFTPAnonymous},
		&Check{ID: "vigil.ftp-cleartext", Name: "FTP without TLS (cleartext credentials)", Family: familyFTP,
			Vector:      "CVSS:3.1/AV:A/AC:H/PR:N/UI:N/S:U/C:H/I:N/A:N",
			PCIFail:     true,
			Description: "The FTP server does not offer AUTH TLS, so user names and passwords cross the network in clear text.",
			Impact:      "Anyone on the path can read the credentials and the files.",
			Solution:    "Enable FTPS (vsftpd: ssl_enable=YES) and require it for logins, or replace FTP by SFTP.",
			Evidence:    "the server's reply to AUTH TLS",
			Applies:     func(ps scan.PortService) bool { return named("ftp")(ps) && ps.Service.TLS == nil }, Run: runFTPCleartext},
		&Check{ID: "vigil.redis-noauth", Name: "Redis without authentication", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The Redis server runs commands for clients that have not authenticated.",
			Impact:      "Anyone who reaches the port reads and changes all data, and can often write files on the host (CONFIG SET dir).",
			Solution:    "Set requirepass or ACL users, enable protected-mode, and bind Redis to private interfaces.",
			References:  []string{"https://redis.io/docs/latest/operate/oss_and_stack/management/security/"},
			Evidence:    "the answer to PING and the server version from INFO",
			Applies:     named("redis"), Run: runRedisNoAuth},
		&Check{ID: "vigil.memcached-noauth", Name: "Memcached without authentication", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:L/I:L/A:L",
			PCIFail:     true,
			Description: "The memcached server answers commands without SASL authentication.",
			Impact:      "Anyone who reaches the port reads and overwrites cached data; over UDP it can amplify denial-of-service attacks.",
			Solution:    "Bind memcached to localhost or a private network (-l), disable UDP (-U 0), and enable SASL where it must be reachable.",
			Evidence:    "the answer to the version command",
			Applies:     named("memcached"), Run: runMemcachedNoAuth},
	)
}

// textExchange sends lines and returns the first reply line of each; the
// greeting (when greet) is read first and returned as the first element.
func textExchange(ctx context.Context, t *Target, port int, greet bool, lines ...string) ([]string, error) {
	c, err := t.Dial(ctx, "tcp", port)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	var out []string
	if greet {
		l, err := readReply(r)
		if err != nil {
			return nil, fmt.Errorf("greeting: %w", err)
		}
		out = append(out, l)
	}
	for _, line := range lines {
		if _, err := c.Write([]byte(line + "\r\n")); err != nil {
			return out, err
		}
		l, err := readReply(r)
		if err != nil {
			return out, fmt.Errorf("reply to %s: %w", strings.Fields(line)[0], err)
		}
		out = append(out, l)
	}
	return out, nil
}

// readReply reads one reply; for a multi-line FTP/SMTP reply ("220-...")
// the last line, which carries the final code.
func readReply(r *bufio.Reader) (string, error) {
	for n := 0; n < 100; n++ {
		l, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		l = strings.TrimRight(l, "\r\n")
		if len(l) >= 4 && l[3] == '-' && l[0] >= '0' && l[0] <= '9' {
			continue
		}
		return l, nil
	}
	return "", fmt.Errorf("reply longer than 100 lines")
}

func runFTPAnonymous(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	replies, err := textExchange(ctx, t, ps.Port, true, "USER anonymous", "PASS vigil-scanner@example.com", "QUIT")
	if len(replies) < 3 {
		return "", false, err
	}
	if strings.HasPrefix(replies[2], "230") {
		return "USER anonymous / PASS: " + replies[2], true, nil
	}
	return "", false, nil
}

func runFTPCleartext(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	replies, err := textExchange(ctx, t, ps.Port, true, "AUTH TLS")
	if len(replies) < 2 {
		return "", false, err
	}
	if strings.HasPrefix(replies[1], "234") {
		return "", false, nil // TLS offered (whether it is required is the server's policy)
	}
	return "AUTH TLS: " + replies[1], true, nil
}

func runRedisNoAuth(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	c, err := t.Dial(ctx, "tcp", ps.Port)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return "", false, err
	}
	l, err := r.ReadString('\n')
	if err != nil {
		return "", false, err
	}
	l = strings.TrimSpace(l)
	if l != "+PONG" {
		return "", false, nil // -NOAUTH Authentication required, or protected mode's -DENIED
	}
	ev := "PING: +PONG without AUTH"
	if v := redisVersion(c, r); v != "" {
		ev += ", redis_version " + v
	}
	return ev, true, nil
}

// redisVersion reads redis_version from INFO server (read-only).
func redisVersion(c net.Conn, r *bufio.Reader) string {
	if _, err := c.Write([]byte("INFO server\r\n")); err != nil {
		return ""
	}
	for n := 0; n < 64; n++ {
		l, err := r.ReadString('\n')
		if err != nil {
			return ""
		}
		if v, ok := strings.CutPrefix(strings.TrimSpace(l), "redis_version:"); ok {
			return v
		}
	}
	return ""
}

func runMemcachedNoAuth(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	if ps.Protocol != "tcp" {
		return "", false, nil
	}
	replies, err := textExchange(ctx, t, ps.Port, false, "version")
	if err != nil || len(replies) == 0 {
		return "", false, err
	}
	if strings.HasPrefix(replies[0], "VERSION ") {
		return "version: " + replies[0], true, nil
	}
	return "", false, nil
}
