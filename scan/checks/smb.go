package checks

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"

	"github.com/vigilscan/vigil/scan"
)

const familySMB = "SMB"

func init() {
	register(
		&Check{ID: "vigil.smb-v1-enabled", Name: "SMB version 1 enabled", Family: familySMB,
			Vector:      "CVSS:3.1/AV:N/AC:H/PR:N/UI:N/S:U/C:H/I:H/A:H",
			PCIFail:     true,
			Description: "The server negotiates SMB 1 (the NT LM 0.12 dialect), which Microsoft deprecated in 2014 and Samba disables by default since 4.11.",
			Impact:      "SMB 1 lacks pre-authentication integrity and has a history of remotely exploitable flaws (EternalBlue, MS17-010, used by WannaCry).",
			Solution:    "Disable SMB 1 (Windows: Disable-WindowsOptionalFeature SMB1Protocol; Samba: server min protocol = SMB2_10).",
			References:  []string{"https://learn.microsoft.com/en-us/windows-server/storage/file-server/troubleshoot/detect-enable-and-disable-smbv1-v2-v3", "https://nvd.nist.gov/vuln/detail/CVE-2017-0144"},
			Evidence:    "the SMB 1 negotiate response (dialect index and security mode)",
			Applies:     isSMB, Run: runSMBv1},
		&Check{ID: "vigil.smb-signing-not-required", Name: "SMB signing not required", Family: familySMB,
			Vector:      "CVSS:3.1/AV:A/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:N",
			Description: "The server accepts SMB 2/3 sessions without message signing.",
			Impact:      "An attacker on the network can relay NTLM authentication to the server (SMB relay) or alter traffic in transit.",
			Solution:    "Require signing (Windows: \"Microsoft network server: Digitally sign communications (always)\"; Samba: server signing = mandatory).",
			References:  []string{"https://learn.microsoft.com/en-us/troubleshoot/windows-server/networking/overview-server-message-block-signing"},
			Evidence:    "the security mode of the SMB 2 negotiate response",
			Applies:     isSMB, Run: runSMBSigning},
	)
}

func isSMB(ps scan.PortService) bool {
	return ps.Protocol == "tcp" && (ps.Port == 445 || named("microsoft-ds", "smb")(ps))
}

// smbExchange sends one NetBIOS-framed message and returns the reply's payload.
func smbExchange(ctx context.Context, t *Target, port int, msg []byte) ([]byte, error) {
	c, err := t.Dial(ctx, "tcp", port)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	return smbRoundTrip(c, msg)
}

func smbRoundTrip(c net.Conn, msg []byte) ([]byte, error) {
	frame := binary.BigEndian.AppendUint32(nil, uint32(len(msg)))
	if _, err := c.Write(append(frame, msg...)); err != nil {
		return nil, err
	}
	var hdr [4]byte
	if _, err := io.ReadFull(c, hdr[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(hdr[:]) & 0xffffff
	if n > 1<<16 {
		return nil, fmt.Errorf("SMB reply of %d bytes", n)
	}
	b := make([]byte, n)
	_, err := io.ReadFull(c, b)
	return b, err
}

// smb1Negotiate offers only the NT LM 0.12 dialect, the one SMB 1 servers speak.
func smb1Negotiate() []byte {
	h := make([]byte, 32)
	copy(h, "\xffSMB")
	h[4] = 0x72                                   // SMB_COM_NEGOTIATE
	h[9] = 0x18                                   // flags: case-insensitive, canonicalized paths
	binary.LittleEndian.PutUint16(h[10:], 0xc843) // flags2: unicode, NT status, extended security, long names
	binary.LittleEndian.PutUint16(h[26:], 0xfeff) // process id
	dialects := []byte("\x02NT LM 0.12\x00")
	body := []byte{0} // word count
	body = binary.LittleEndian.AppendUint16(body, uint16(len(dialects)))
	return append(append(h, body...), dialects...)
}

func runSMBv1(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	r, err := smbExchange(ctx, t, ps.Port, smb1Negotiate())
	if err != nil {
		return "", false, nil // SMB 1 refused by closing the connection
	}
	if len(r) < 37 || !bytes.HasPrefix(r, []byte("\xffSMB")) || r[4] != 0x72 {
		return "", false, nil // an SMB 2 answer or an error
	}
	if status := binary.LittleEndian.Uint32(r[5:]); status != 0 {
		return "", false, nil
	}
	dialect := binary.LittleEndian.Uint16(r[33:])
	if r[32] == 0 || dialect == 0xffff {
		return "", false, nil // no dialect accepted
	}
	mode := ""
	if r[32] >= 17 && len(r) > 35 {
		mode = fmt.Sprintf(", security mode 0x%02x", r[35])
	}
	return fmt.Sprintf("SMB 1 negotiate accepted dialect NT LM 0.12%s", mode), true, nil
}

// smb2Negotiate offers SMB 2.0.2 to 3.0.2 (3.1.1 needs negotiate contexts,
// and any of these shows the server's signing policy).
func smb2Negotiate() []byte {
	h := make([]byte, 64)
	copy(h, "\xfeSMB")
	binary.LittleEndian.PutUint16(h[4:], 64) // structure size
	binary.LittleEndian.PutUint16(h[14:], 1) // credits requested
	dialects := []uint16{0x0202, 0x0210, 0x0300, 0x0302}
	b := binary.LittleEndian.AppendUint16(nil, 36) // structure size
	b = binary.LittleEndian.AppendUint16(b, uint16(len(dialects)))
	b = binary.LittleEndian.AppendUint16(b, 1) // security mode: signing enabled
	b = append(b, 0, 0)                        // reserved
	b = binary.LittleEndian.AppendUint32(b, 0) // capabilities
	b = append(b, []byte("vigil-scanner-id")...)
	b = append(b, make([]byte, 8)...) // client start time
	for _, d := range dialects {
		b = binary.LittleEndian.AppendUint16(b, d)
	}
	return append(h, b...)
}

func runSMBSigning(ctx context.Context, t *Target, ps scan.PortService) (string, bool, error) {
	r, err := smbExchange(ctx, t, ps.Port, smb2Negotiate())
	if err != nil {
		return "", false, err
	}
	if len(r) < 64+8 || !bytes.HasPrefix(r, []byte("\xfeSMB")) {
		return "", false, fmt.Errorf("not an SMB 2 negotiate response")
	}
	if status := binary.LittleEndian.Uint32(r[8:]); status != 0 {
		return "", false, fmt.Errorf("SMB 2 negotiate status 0x%08x", status)
	}
	body := r[64:]
	mode := binary.LittleEndian.Uint16(body[2:])
	dialect := binary.LittleEndian.Uint16(body[4:])
	if mode&0x02 != 0 {
		return "", false, nil // signing required
	}
	return fmt.Sprintf("SMB %d.%d.%d negotiate: security mode 0x%02x (signing enabled=%t, required=false)",
		dialect>>8, dialect>>4&0xf, dialect&0xf, mode, mode&0x01 != 0), true, nil
}
