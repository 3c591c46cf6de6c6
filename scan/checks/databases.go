package checks

import (
	"bufio"
	"context"
	"crypto/sha1" //nolint:gosec // mysql_native_password is defined on SHA-1
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/vigilscan/vigil/scan"
)

func init() {
	register(
		&Check{ID: "vigil.mongodb-noauth", Name: "MongoDB without authentication", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The MongoDB server lists its databases to a client that has not authenticated.",
			Impact:      "Anyone who reaches the port reads, changes and deletes all data; exposed MongoDB servers are routinely wiped and held to ransom.",
			Solution:    "Enable access control (security.authorization: enabled), create users, and bind to private interfaces (net.bindIp).",
			References:  []string{"https://www.mongodb.com/docs/manual/administration/security-checklist/"},
			Evidence:    "the listDatabases answer (names only)",
			Applies:     named("mongodb", "mongod"), Run: runMongoNoAuth},
		&Check{ID: "vigil.elasticsearch-noauth", Name: "Elasticsearch without authentication", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The Elasticsearch REST API answers requests without credentials.",
			Impact:      "Anyone who reaches the port reads every index and can change or delete them.",
			Solution:    "Enable Elasticsearch security (xpack.security.enabled: true) with TLS and users, and restrict network access to port 9200.",
			References:  []string{"https://www.elastic.co/guide/en/elasticsearch/reference/current/security-minimal-setup.html"},
			Evidence:    "the cluster name and version from GET /",
			Applies: func(ps scan.PortService) bool {
				return ps.Protocol == "tcp" && (named("elasticsearch")(ps) || (ps.Port == 9200 && named("http", "https")(ps)))
			},
			Run: runElasticsearchNoAuth},
		&Check{ID: "vigil.postgresql-default-credentials", Name: "PostgreSQL accepts a default or empty password", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The PostgreSQL server lets the superuser \"postgres\" sign in over the network with no password or the password \"postgres\" (or trusts the network without asking).",
			Impact:      "Anyone who reaches the port has full control of every database, and of the operating system account through COPY ... PROGRAM.",
			Solution:    "Set a strong password, replace trust entries in pg_hba.conf with scram-sha-256, and limit listen_addresses.",
			References:  []string{"https://www.postgresql.org/docs/current/auth-pg-hba-conf.html"},
			Evidence:    "the user and password that signed in (the session is closed at once)",
			QoD:         99,
			Applies:     named("postgresql"), Run: runPostgresDefaultCreds},
		&Check{ID: "vigil.mysql-default-credentials", Name: "MySQL/MariaDB accepts a default or empty password", Family: familyDatastore,
			Vector:      "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The MySQL or MariaDB server lets \"root\" sign in over the network with an empty password or the password \"root\".",
			Impact:      "Anyone who reaches the port has full control of every database and can often read and write files on the host.",
			Solution:    "Set a strong root password (or unix_socket authentication only), remove network root logins, and bind to private interfaces.",
			References:  []string{"https://dev.mysql.com/doc/refman/8.0/en/default-privileges.html"},
			Evidence:    "the user and password that signed in (the session is closed at once)",
			QoD:         99,
			Applies:     named("mysql"), Run: runMySQLDefaultCreds},
	)
}

// --- MongoDB -------------------------------------------------------------

// mongoListDatabases is an OP_MSG (MongoDB 3.6+) asking
// {listDatabases: 1, nameOnly: true, $db: "admin"}.
func mongoListDatabases(reqID uint32) []byte {
	var doc []byte
	doc = append(doc, 0x10)
	doc = append(doc, "listDatabases\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, 1)
	doc = append(doc, 0x08)
	doc = append(doc, "nameOnly\x00"...)
	doc = append(doc, 1)
	doc = append(doc, 0x02)
	doc = append(doc, "$db\x00"...)
	doc = binary.LittleEndian.AppendUint32(doc, 6)
	doc = append(doc, "admin\x00"...)
	doc = append(doc, 0)
	doc = append(binary.LittleEndian.AppendUint32(nil, uint32(len(doc)+4)), doc...)
	body := append(binary.LittleEndian.AppendUint32(nil, 0), 0) // flag bits, section kind 0
	body = append(body, doc...)
	h := binary.LittleEndian.AppendUint32(nil, uint32(16+len(body)))
	h = binary.LittleEndian.AppendUint32(h, reqID)
	h = binary.LittleEndian.AppendUint32(h, 0)
	h = binary.LittleEndian.AppendUint32(h, 2013) // OP_MSG
	return append(h, body...)
}

// bsonFields reads the top-level fields of a BSON document that a check
// needs: numbers, strings, booleans, and the names in an array of
// documents (databases[].name). Other types end the walk.
func bsonFields(doc []byte) (map[string]any, error) {
	if len(doc) < 5 || int(binary.LittleEndian.Uint32(doc)) > len(doc) {
		return nil, errors.New("short BSON document")
	}
	out := map[string]any{}
	i := 4
	for i < len(doc) && doc[i] != 0 {
		typ := doc[i]
		end := i + 1
		for end < len(doc) && doc[end] != 0 {
			end++
		}
		if end >= len(doc) {
			return out, nil
		}
		name := string(doc[i+1 : end])
		i = end + 1
		switch typ {
		case 0x01: // double
			if i+8 > len(doc) {
				return out, nil
			}
			out[name] = math.Float64frombits(binary.LittleEndian.Uint64(doc[i:]))
			i += 8
		case 0x10: // int32
			if i+4 > len(doc) {
				return out, nil
			}
			out[name] = float64(int32(binary.LittleEndian.Uint32(doc[i:])))
			i += 4
		case 0x12: // int64
			if i+8 > len(doc) {
				return out, nil
			}
			out[name] = float64(int64(binary.LittleEndian.Uint64(doc[i:])))
			i += 8
		case 0x08: // bool
			if i >= len(doc) {
				return out, nil
			}
			out[name] = doc[i] == 1
			i++
		case 0x02: // string
			if i+4 > len(doc) {
				return out, nil
			}
			n := int(binary.LittleEndian.Uint32(doc[i:]))
			if n < 1 || i+4+n > len(doc) {
				return out, nil
			}
			out[name] = string(doc[i+4 : i+4+n-1])
			i += 4 + n
		case 0x03, 0x04: // document, array
			if i+4 > len(doc) {
				return out, nil
			}
			n := int(binary.LittleEndian.Uint32(doc[i:]))
			if n < 5 || i+n > len(doc) {
				return out, nil
			}
			if typ == 0x04 {
				var names []string
				elems, _ := bsonElements(doc[i : i+n])
				for _, e := range elems {
					if f, err := bsonFields(e); err == nil {
						if s, ok := f["name"].(string); ok {
							names = append(names, s)
						}
					}
				}
				out[name] = names
			}
			i += n
		case 0x0A: // null
		default:
			return out, nil
		}
	}
	return out, nil
}

// bsonElements returns the embedded documents of a BSON array.
func bsonElements(arr []byte) ([][]byte, error) {
	var out [][]byte
	i := 4
	for i < len(arr) && arr[i] != 0 {
		typ := arr[i]
		for i < len(arr) && arr[i] != 0 {
			i++
		}
		i++
		if typ != 0x03 || i+4 > len(arr) {
			return out, nil
		}
		n := int(binary.LittleEndian.Uint32(arr[i:]))
		if n < 5 || i+n > len(arr) {
			return out, nil
		}
		out = append(out, arr[i:i+n])
		i += n
	}
	return out, nil
}

func runMongoNoAuth(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	c, err := t.Dial(ctx, "tcp", ps.Port)
	if err != nil {
		return "", false, err
	}
	defer c.Close()
	reqID := rand.Uint32() & 0x7fffffff
	if _, err := c.Write(mongoListDatabases(reqID)); err != nil {
		return "", false, err
	}
	var hdr [16]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return "", false, err
	}
	n := int(binary.LittleEndian.Uint32(hdr[:]))
	if n < 21 || n > 16<<20 || binary.LittleEndian.Uint32(hdr[8:]) != reqID {
		return "", false, fmt.Errorf("not a MongoDB reply")
	}
	if op := binary.LittleEndian.Uint32(hdr[12:]); op != 2013 {
		return "", false, fmt.Errorf("MongoDB reply opcode %d (server older than 3.6?)", op)
	}
	body := make([]byte, min(n-16, 1<<20))
	if _, err := io.ReadFull(c, body); err != nil {
		return "", false, err
	}
	if body[4] != 0 {
		return "", false, fmt.Errorf("unexpected OP_MSG section kind %d", body[4])
	}
	f, err := bsonFields(body[5:])
	if err != nil {
		return "", false, err
	}
	if ok, _ := f["ok"].(float64); ok != 1 {
		return "", false, nil // Unauthorized (code 13): access control is on
	}
	names, _ := f["databases"].([]string)
	return fmt.Sprintf("listDatabases without authentication: ok, %d databases (%s)", len(names), strings.Join(names[:min(len(names), 10)], ", ")), true, nil
}

// --- Elasticsearch -------------------------------------------------------

func runElasticsearchNoAuth(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	resp, body, err := httpRoot(ctx, t, ps)
	if err != nil {
		return "", false, err
	}
	if resp.StatusCode != http.StatusOK {
		return "", false, nil // 401 with a WWW-Authenticate: security is on
	}
	var root struct {
		Name        string `json:"name"`
		ClusterName string `json:"cluster_name"`
		Version     struct {
			Number string `json:"number"`
		} `json:"version"`
		Tagline string `json:"tagline"`
	}
	if json.Unmarshal([]byte(body), &root) != nil || root.ClusterName == "" || root.Version.Number == "" {
		return "", false, nil // not Elasticsearch's root document
	}
	if resp.Header.Get("X-elastic-product") == "" && !strings.Contains(root.Tagline, "You Know, for Search") {
		return "", false, nil
	}
	return fmt.Sprintf("GET / %s without credentials: cluster %q, node %q, version %s", resp.Status, root.ClusterName, root.Name, root.Version.Number), true, nil
}

// --- PostgreSQL ----------------------------------------------------------

// postgresDefaults are tried in order; the first to sign in is reported.
var postgresDefaults = [][2]string{{"postgres", ""}, {"postgres", "postgres"}}

func runPostgresDefaultCreds(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	for _, cred := range postgresDefaults {
		// sslmode=prefer: TLS where offered (unverified, as a scanner must), else plain.
		cfg, err := pgconn.ParseConfig(fmt.Sprintf("host=%s port=%d dbname=postgres sslmode=prefer", t.Addr, ps.Port))
		if err != nil {
			return "", false, err
		}
		cfg.User, cfg.Password, cfg.ConnectTimeout = cred[0], cred[1], t.Timeout
		for _, fb := range cfg.Fallbacks {
			fb.Host, fb.Port = cfg.Host, cfg.Port
		}
		cfg.DialFunc = func(ctx context.Context, network, addr string) (net.Conn, error) { return t.Dial(ctx, "tcp", ps.Port) }
		cfg.RuntimeParams = map[string]string{"application_name": "vigil-scanner"}
		cctx, cancel := context.WithTimeout(ctx, 2*t.Timeout)
		conn, err := pgconn.ConnectConfig(cctx, cfg)
		cancel()
		if err == nil {
			_ = conn.Close(ctx)
			pw := "an empty password"
			if cred[1] != "" {
				pw = "the password \"" + cred[1] + "\""
			}
			return fmt.Sprintf("signed in as %q with %s to database postgres", cred[0], pw), true, nil
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) && !strings.Contains(err.Error(), "password") {
			return "", false, err // no answer: cannot decide
		}
	}
	return "", false, nil
}

// --- MySQL / MariaDB -----------------------------------------------------

var mysqlDefaults = [][2]string{{"root", ""}, {"root", "root"}}

func runMySQLDefaultCreds(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	for _, cred := range mysqlDefaults {
		ok, err := mysqlSignIn(ctx, t, ps.Port, cred[0], cred[1])
		if err != nil {
			return "", false, err
		}
		if ok {
			pw := "an empty password"
			if cred[1] != "" {
				pw = "the password \"" + cred[1] + "\""
			}
			return fmt.Sprintf("signed in as %q with %s", cred[0], pw), true, nil
		}
	}
	return "", false, nil
}

// mysqlSignIn performs the client side of the MySQL handshake with
// mysql_native_password and reports whether the server accepted it.
// A server that refuses the client's host in its greeting is a "no".
func mysqlSignIn(ctx context.Context, t *Target, port int, user, password string) (bool, error) {
	c, err := t.Dial(ctx, "tcp", port)
	if err != nil {
		return false, err
	}
	defer c.Close()
	r := bufio.NewReader(c)
	greet, _, err := mysqlRead(r)
	if err != nil {
		return false, err
	}
	if len(greet) > 0 && greet[0] == 0xff {
		return false, nil // "Host ... is not allowed to connect"
	}
	salt, err := mysqlSalt(greet)
	if err != nil {
		return false, err
	}
	const caps = 0x00000001 | 0x00000200 | 0x00008000 | 0x00080000 // long password, protocol 41, secure connection, plugin auth
	resp := binary.LittleEndian.AppendUint32(nil, caps)
	resp = binary.LittleEndian.AppendUint32(resp, 1<<24)
	resp = append(resp, 33) // utf8_general_ci
	resp = append(resp, make([]byte, 23)...)
	resp = append(append(resp, user...), 0)
	auth := mysqlNativeScramble(password, salt)
	resp = append(append(resp, byte(len(auth))), auth...)
	resp = append(append(resp, "mysql_native_password"...), 0)
	if err := mysqlWrite(c, 1, resp); err != nil {
		return false, err
	}
	for round := 0; round < 3; round++ {
		reply, seq, err := mysqlRead(r)
		if err != nil {
			return false, err
		}
		switch {
		case len(reply) > 0 && reply[0] == 0x00:
			_ = mysqlWrite(c, 0, []byte{0x01}) // COM_QUIT
			return true, nil
		case len(reply) > 0 && reply[0] == 0xff:
			return false, nil // Access denied
		case len(reply) > 0 && reply[0] == 0xfe: // auth switch request
			plugin, data, _ := strings.Cut(string(reply[1:]), "\x00")
			if plugin != "mysql_native_password" {
				return false, nil // unix_socket, ed25519, caching_sha2 without TLS: not a default login
			}
			auth := mysqlNativeScramble(password, []byte(strings.TrimSuffix(data, "\x00")))
			if err := mysqlWrite(c, seq+1, auth); err != nil {
				return false, err
			}
		default:
			return false, fmt.Errorf("unexpected MySQL reply 0x%x", reply)
		}
	}
	return false, fmt.Errorf("MySQL authentication did not end")
}

func mysqlRead(r *bufio.Reader) ([]byte, byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, 0, err
	}
	n := int(h[0]) | int(h[1])<<8 | int(h[2])<<16
	if n > 1<<16 {
		return nil, 0, fmt.Errorf("MySQL packet of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(r, b)
	return b, h[3], err
}

func mysqlWrite(c net.Conn, seq byte, payload []byte) error {
	n := len(payload)
	_, err := c.Write(append([]byte{byte(n), byte(n >> 8), byte(n >> 16), seq}, payload...))
	return err
}

// mysqlSalt takes the 20-byte scramble from a protocol 10 greeting.
func mysqlSalt(g []byte) ([]byte, error) {
	if len(g) < 1 || g[0] != 10 {
		return nil, fmt.Errorf("not a MySQL protocol 10 greeting")
	}
	i := 1
	for i < len(g) && g[i] != 0 { // server version
		i++
	}
	i += 1 + 4 // NUL, connection id
	if i+8+1+2+1+2+2+1+10 > len(g) {
		return nil, fmt.Errorf("short MySQL greeting")
	}
	salt := append([]byte{}, g[i:i+8]...)
	i += 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10
	end := min(i+12, len(g))
	return append(salt, g[i:end]...), nil
}

// mysqlNativeScramble is SHA1(pw) XOR SHA1(salt + SHA1(SHA1(pw))); an
// empty password is sent as nothing.
func mysqlNativeScramble(password string, salt []byte) []byte {
	if password == "" {
		return nil
	}
	h1 := sha1.Sum([]byte(password)) //nolint:gosec
	h2 := sha1.Sum(h1[:])            //nolint:gosec
	h := sha1.New()                  //nolint:gosec
	h.Write(salt[:min(len(salt), 20)])
	h.Write(h2[:])
	h3 := h.Sum(nil)
	out := make([]byte, 20)
	for i := range out {
		out[i] = h1[i] ^ h3[i]
	}
	return out
}
