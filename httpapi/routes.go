package httpapi

import (
	"net/http"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/vigilscan/vigil"
)

// routes is the whole route table.
func (s *Server) routes() {
	api := s.api

	// Health, readiness and metrics: no credentials.
	huma.Register(api, public(op(http.MethodGet, "/healthz", "healthz", "System", "Liveness probe")), s.handleHealthz)
	huma.Register(api, public(op(http.MethodGet, "/readyz", "readyz", "System", "Readiness probe: database reachable, schema current")), s.handleReadyz)
	s.mux.Handle("GET /metrics", metricsHandler(s.registry))

	// Authentication (CG §3.1).
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/sign_in", "sign-in", "Authentication", "Sign in")), s.handleSignIn)
	huma.Register(api, op(http.MethodDelete, "/auth/sign_out", "sign-out", "Authentication", "Sign out"), s.handleSignOut)
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/sign_in_with_recovery_code", "sign-in-recovery-code", "Authentication", "Sign in with recovery code")), s.handleRecoverySignIn)
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/check_2fa", "check-2fa", "Authentication", "Check 2FA")), s.handleCheck2FA)
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/send_sms_otp", "send-sms-otp", "Authentication", "Send SMS OTP")), s.handleSendSMSOTP)
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/password", "forgot-password", "Authentication", "Forgot password")), s.handleForgotPassword)
	huma.Register(api, anonymous(op(http.MethodPut, "/auth/password", "reset-password", "Authentication", "Reset password")), s.handleResetPassword)
	huma.Register(api, anonymous(op(http.MethodGet, "/auth/confirmation", "show-confirmation", "Authentication", "Show confirmation form")), s.handleShowConfirmation)
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/confirmation", "confirm-user", "Authentication", "Confirm a user")), s.handleConfirm)
	huma.Register(api, anonymous(op(http.MethodGet, "/auth/invitation", "check-invitation", "Authentication", "Pre-accept invitation check")), s.handleCheckInvitation)
	huma.Register(api, anonymous(op(http.MethodPut, "/auth/invitation", "accept-invitation", "Authentication", "Accept an invitation")), s.handleAcceptInvitation)
	huma.Register(api, op(http.MethodPost, "/auth/impersonate", "impersonate-start", "Authentication", "Impersonate user (start)"), s.handleImpersonate)
	huma.Register(api, op(http.MethodDelete, "/auth/impersonate", "impersonate-stop", "Authentication", "Impersonate user (stop)"), s.handleStopImpersonation)

	// Current user (CG §3.15).
	huma.Register(api, op(http.MethodGet, "/v2/user/me", "get-current-user", "User", "Get current user"), s.handleMe)
	huma.Register(api, op(http.MethodPut, "/v2/user/me", "update-current-user", "User", "Update current user"), s.handleUpdateMe)
	huma.Register(api, op(http.MethodPut, "/v2/user/me/password", "change-password", "User", "Change current user password"), s.handleChangePassword)
	huma.Register(api, op(http.MethodGet, "/v2/user/permissions", "user-permissions", "User", "Get current user permissions"), s.handlePermissions)
	huma.Register(api, op(http.MethodGet, "/v2/user/token/valid", "token-valid", "User", "Checks if authorization token is valid"), s.handleTokenValid)
	huma.Register(api, created(op(http.MethodPost, "/v2/user/access_token", "create-access-token", "User", "Generates a new access token")), s.handleCreateAccessToken)
	huma.Register(api, op(http.MethodGet, "/v2/user/access_tokens", "list-access-tokens", "User", "List access tokens"), s.handleListAccessTokens)
	huma.Register(api, op(http.MethodDelete, "/v2/user/access_token", "revoke-access-token", "User", "Revokes the current access token"), s.handleRevokeAccessToken)
	huma.Register(api, op(http.MethodPut, "/v2/user/mfa/enable", "mfa-enable", "User", "Enable 2FA"), s.handleMFAEnable)
	huma.Register(api, op(http.MethodPut, "/v2/user/mfa/verify_installation", "mfa-verify", "User", "Verify 2FA installation"), s.handleMFAVerify)
	huma.Register(api, op(http.MethodPut, "/v2/user/mfa/disable", "mfa-disable", "User", "Disable 2FA"), s.handleMFADisable)
	huma.Register(api, op(http.MethodGet, "/v2/user/mfa/lookup_phone", "mfa-lookup-phone", "User", "Lookup phone number"), s.handleLookupPhone)
	huma.Register(api, op(http.MethodPut, "/v2/user/mfa/default_method", "mfa-default-method", "User", "Set default 2FA method"), s.handleMFADefault)
	huma.Register(api, op(http.MethodPost, "/v2/user/mfa/recovery_codes", "mfa-generate-recovery-codes", "User", "Generate recovery codes"), s.handleGenerateRecoveryCodes)
	huma.Register(api, op(http.MethodGet, "/v2/user/mfa/recovery_codes", "mfa-recovery-codes", "User", "Recovery codes left"), s.handleGetRecoveryCodes)
	huma.Register(api, op(http.MethodPost, "/v2/user/mfa/sms_code", "mfa-sms-code", "User", "Send an SMS code to the enrolled number"), s.handleMFASendSMS)

	// Targets (CG §3.2).
	huma.Register(api, list(op(http.MethodGet, "/v2/targets", "list-targets", "Targets", "List targets"), vigil.TargetList), s.handleTargetList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/targets", "create-target", "Targets", "Create target")), "target"), s.handleTargetCreate)
	huma.Register(api, wrap(op(http.MethodPost, "/v2/targets/calculate_hosts", "calculate-hosts", "Targets", "Calculate hosts"), "target"), s.handleTargetCalculateHosts)
	huma.Register(api, op(http.MethodGet, "/v2/targets/{id}", "show-target", "Targets", "Show a target"), s.handleTargetShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/targets/{id}", "update-target", "Targets", "Update a target"), "target"), s.handleTargetUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/targets/{id}", "delete-target", "Targets", "Delete a target"), s.handleTargetDelete)
	huma.Register(api, op(http.MethodDelete, "/v2/targets", "delete-targets", "Targets", "Delete targets (bulk)"), s.handleTargetBulkDelete)

	// Credentials (not in the CG docs; needed by targets).
	huma.Register(api, list(op(http.MethodGet, "/v2/credentials", "list-credentials", "Credentials", "List credentials"), vigil.CredentialList), s.handleCredentialList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/credentials", "create-credential", "Credentials", "Create credential")), "credential"), s.handleCredentialCreate)
	huma.Register(api, op(http.MethodGet, "/v2/credentials/{id}", "show-credential", "Credentials", "Show a credential"), s.handleCredentialShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/credentials/{id}", "update-credential", "Credentials", "Update a credential"), "credential"), s.handleCredentialUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/credentials/{id}", "delete-credential", "Credentials", "Delete a credential"), s.handleCredentialDelete)
	huma.Register(api, op(http.MethodDelete, "/v2/credentials", "delete-credentials", "Credentials", "Delete credentials (bulk)"), s.handleCredentialBulkDelete)

	// Port lists (CG §3.14).
	huma.Register(api, list(op(http.MethodGet, "/v2/port_lists", "list-port-lists", "Port Lists", "List port lists"), vigil.PortListList), s.handlePortListList)
	huma.Register(api, list(op(http.MethodGet, "/v2/port_lists/activated", "list-activated-port-lists", "Port Lists", "List activated port lists"), vigil.PortListList), s.handlePortListActivated)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/port_lists", "create-port-list", "Port Lists", "Create port list")), "port_list"), s.handlePortListCreate)
	huma.Register(api, op(http.MethodPost, "/v2/port_lists/sync", "sync-port-lists", "Port Lists", "Sync port lists"), s.handlePortListSync)
	huma.Register(api, op(http.MethodGet, "/v2/port_lists/{id}", "show-port-list", "Port Lists", "Show a port list"), s.handlePortListShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/port_lists/{id}", "update-port-list", "Port Lists", "Update port list"), "port_list"), s.handlePortListUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/port_lists/{id}", "delete-port-list", "Port Lists", "Delete port list"), s.handlePortListDelete)
	huma.Register(api, op(http.MethodDelete, "/v2/port_lists", "delete-port-lists", "Port Lists", "Delete port lists (bulk)"), s.handlePortListBulkDelete)
	huma.Register(api, op(http.MethodGet, "/v2/port_lists/{id}/ranges", "list-port-ranges", "Port Lists", "Port list ranges"), s.handlePortRangeList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/port_lists/{id}/ranges", "add-port-range", "Port Lists", "Add a port range")), "port_range"), s.handlePortRangeAdd)
	huma.Register(api, op(http.MethodDelete, "/v2/port_lists/{id}/ranges/{range_id}", "delete-port-range", "Port Lists", "Delete a port range"), s.handlePortRangeDelete)
	huma.Register(api, op(http.MethodPut, "/v2/port_lists/{id}/activate", "activate-port-list", "Port Lists", "Activate port list"), s.handlePortListActivate)
	huma.Register(api, op(http.MethodPut, "/v2/port_lists/{id}/deactivate", "deactivate-port-list", "Port Lists", "Deactivate port list"), s.handlePortListDeactivate)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/port_lists/{id}/app_type", "port-list-app-type", "Port Lists", "Port list app_type"), "port_list"), s.handlePortListAppType)

	// Scans (CG §3.3); the fixed views come before /v2/scans/{id}.
	huma.Register(api, list(op(http.MethodGet, "/v2/scan_profiles", "list-scan-profiles", "Scans", "List activated scan profiles (configs)"), vigil.ScanProfileList), s.handleScanProfileList)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans", "list-scans", "Scans", "List scans"), vigil.ScanList), s.handleScanList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/scans", "create-scan", "Scans", "Create scan")), "scan"), s.handleScanCreate)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/running", "list-running-scans", "Scans", "List of the running scans"), vigil.ScanList), s.handleScanRunning)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/recent", "list-recent-scans", "Scans", "List recent scans that have been completed"), vigil.ScanList), s.handleScanRecent)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/upcoming", "list-upcoming-scans", "Scans", "List upcoming scans"), vigil.ScanList), s.handleScanUpcoming)
	huma.Register(api, op(http.MethodGet, "/v2/scans/{id}", "show-scan", "Scans", "Show a scan"), s.handleScanShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/scans/{id}", "update-scan", "Scans", "Update a scan"), "scan"), s.handleScanUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/scans/{id}", "delete-scan", "Scans", "Delete a scan"), s.handleScanDelete)
	huma.Register(api, op(http.MethodDelete, "/v2/scans", "delete-scans", "Scans", "Delete scans (bulk)"), s.handleScanBulkDelete)
	huma.Register(api, op(http.MethodPost, "/v2/scans/{id}/start", "start-scan", "Scans", "Start a scan"), s.handleScanStart)
	huma.Register(api, op(http.MethodPost, "/v2/scans/{id}/stop", "stop-scan", "Scans", "Stop a scan"), s.handleScanStop)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/{id}/histories", "list-scan-histories", "Scans", "List of history for a scan"), vigil.RunList), s.handleRunList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/scans/wizard", "create-scan-wizard", "Scans", "Create scan from wizard")), "wizard"), s.handleScanWizard)
	huma.Register(api, op(http.MethodGet, "/v2/scans/{id}/histories/{history_id}", "show-scan-history", "Scans", "History details for a scan"), s.handleRunShow)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/{id}/histories/{history_id}/diff", "show-scan-history-diff", "Scans", "Findings a run changed (new, reopened, fixed)"), vigil.DiffList), s.handleRunDiff)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/{id}/hosts", "list-scan-hosts", "Scans", "List of hosts for a scan"), vigil.RunHostList), s.handleScanHostList)
	huma.Register(api, op(http.MethodGet, "/v2/scans/{id}/hosts/{host_id}", "show-scan-host", "Scans", "Host details for a scan"), s.handleScanHostShow)
	huma.Register(api, list(op(http.MethodGet, "/v2/scans/{id}/vulnerabilities", "list-scan-vulnerabilities", "Scans", "List of vulnerabilities for a scan"), vigil.FindingList), s.handleScanVulnerabilityList)
	huma.Register(api, op(http.MethodGet, "/v2/scans/{id}/vulnerabilities/{vulnerability_id}", "show-scan-vulnerability", "Scans", "Show vulnerability details (scan)"), s.handleScanVulnerabilityShow)
	huma.Register(api, op(http.MethodGet, "/v2/scans/{id}/statistics", "scan-statistics", "Scans", "Statistics for a scan"), s.handleScanStatistics)

	// Vulnerabilities (CG §3.5); the widgets come before /v2/vulnerabilities/{id}.
	huma.Register(api, list(op(http.MethodGet, "/v2/vulnerabilities", "list-vulnerabilities", "Vulnerabilities", "List of vulnerabilities"), vigil.FindingList), s.handleVulnerabilityList)
	huma.Register(api, op(http.MethodGet, "/v2/vulnerabilities/total", "vulnerabilities-total", "Vulnerabilities", "Total Vulnerabilities (widget)"), s.handleVulnerabilityTotal)
	huma.Register(api, op(http.MethodGet, "/v2/vulnerabilities/top", "vulnerabilities-top", "Vulnerabilities", "Top Vulnerabilities (widget)"), s.handleVulnerabilityTop)
	huma.Register(api, op(http.MethodGet, "/v2/vulnerabilities/pci_compliant", "vulnerabilities-pci-compliant", "Vulnerabilities", "PCI Compliant (widget)"), s.handleVulnerabilityPCI)
	huma.Register(api, op(http.MethodGet, "/v2/vulnerabilities/{id}", "show-vulnerability", "Vulnerabilities", "Vulnerability details"), s.handleVulnerabilityShow)

	// Vulnerability intelligence (not in the CG docs).
	huma.Register(api, op(http.MethodGet, "/v2/feeds", "list-feeds", "Feeds", "Feed status: source, version, record count, last sync"), s.handleFeedList)

	// Hosts (CG §3.12).
	huma.Register(api, list(op(http.MethodGet, "/v2/hosts", "list-hosts", "Hosts", "List of hosts"), vigil.HostList), s.handleHostList)
	huma.Register(api, op(http.MethodGet, "/v2/hosts/most_vulnerable", "most-vulnerable-hosts", "Hosts", "List of most vulnerable hosts"), s.handleHostMostVulnerable)
	huma.Register(api, op(http.MethodGet, "/v2/hosts/{id}", "show-host", "Hosts", "Host details"), s.handleHostShow)
}

// op builds an operation with the error responses every route can give.
func op(method, path, id, tag, summary string) huma.Operation {
	errs := []int{http.StatusUnauthorized, http.StatusForbidden, http.StatusUnprocessableEntity, http.StatusTooManyRequests, http.StatusInternalServerError}
	if method != http.MethodPost || strings.Contains(path, "{id}") {
		errs = append(errs, http.StatusNotFound)
	}
	return huma.Operation{OperationID: id, Method: method, Path: path, Summary: summary, Tags: []string{tag},
		Errors: errs, Metadata: map[string]any{}}
}

func created(o huma.Operation) huma.Operation {
	o.DefaultStatus = http.StatusCreated
	return o
}

func wrap(o huma.Operation, key string) huma.Operation {
	o.Metadata[metaWrap] = key
	o.Description += "The body may also be sent without the \"" + key + "\" wrapper."
	return o
}

func anonymous(o huma.Operation) huma.Operation {
	o.Metadata[metaAnonymous] = true
	o.Security = []map[string][]string{{"apiKey": {}}}
	return o
}

func public(o huma.Operation) huma.Operation {
	o.Metadata[metaPublic] = true
	o.Security = []map[string][]string{}
	o.Errors = []int{http.StatusServiceUnavailable}
	return o
}

func list(o huma.Operation, spec vigil.ListSpec) huma.Operation {
	documentList(&o, spec)
	return o
}
