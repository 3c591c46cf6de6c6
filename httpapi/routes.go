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
	huma.Register(api, anonymous(op(http.MethodPost, "/auth/sso_link_login", "sso-link-login", "Authentication", "SSO Link login")), s.handleSSOLinkLogin)
	huma.Register(api, public(op(http.MethodGet, "/auth/sso/authorize", "sso-authorize", "Authentication", "Start SSO sign-in (browser; redirects to the identity provider)")), s.handleSSOAuthorize)
	huma.Register(api, public(op(http.MethodGet, "/auth/sso/callback", "sso-callback", "Authentication", "SSO callback (browser; redirects to the portal with a one-time link token)")), s.handleSSOCallback)
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

	huma.Register(api, op(http.MethodGet, "/v2/user/plans", "user-plans", "User", "Get current user active plans"), s.handleMyPlans)
	huma.Register(api, list(op(http.MethodGet, "/v2/user/organization/members", "organization-members", "User", "Get organization members"), vigil.UserList), s.handleMembers)
	huma.Register(api, op(http.MethodGet, "/v2/user/products", "user-products", "User", "Get current user products"), s.handleProducts)
	huma.Register(api, op(http.MethodPut, "/v2/user/product", "change-product", "User", "Change users product"), s.handleChangeProduct)
	huma.Register(api, op(http.MethodGet, "/v2/user/organization/sso", "show-sso-provider", "User", "Show the organization's SSO (OIDC) provider"), s.handleSSOConfigShow)
	huma.Register(api, op(http.MethodPut, "/v2/user/organization/sso", "update-sso-provider", "User", "Configure the organization's SSO (OIDC) provider"), s.handleSSOConfigSet)
	huma.Register(api, op(http.MethodDelete, "/v2/user/organization/sso", "delete-sso-provider", "User", "Remove the organization's SSO provider"), s.handleSSOConfigDelete)
	huma.Register(api, op(http.MethodGet, "/v2/user/organization", "current-organization", "User", "Get current organization"), s.handleMyOrganization)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/user/organization", "update-current-organization", "User", "Update current organization"), "organization"), s.handleUpdateMyOrganization)
	huma.Register(api, op(http.MethodGet, "/v2/user/subscriptions/history", "subscriptions-history", "User", "Get subscriptions history"), s.handleSubscriptionHistory)
	huma.Register(api, op(http.MethodGet, "/v2/user/can_delete", "user-can-delete", "User", "Check if the user can be deleted"), s.handleCanDeleteMe)
	huma.Register(api, op(http.MethodDelete, "/v2/user/me", "delete-my-account", "User", "Delete my account"), s.handleDeleteMe)
	huma.Register(api, op(http.MethodPut, "/v2/user/transfer_resources", "transfer-resources", "User", "(Admin) Transfers all the resources from the user to another user"), s.handleTransferResources)
	huma.Register(api, op(http.MethodGet, "/v2/user/preferences/notifications", "list-notification-preferences", "User", "List notification preferences"), s.handlePreferenceList)
	huma.Register(api, op(http.MethodPut, "/v2/user/preferences/notifications/{name}", "update-notification-preference", "User", "Update a notification preference"), s.handlePreferenceUpdate)
	huma.Register(api, op(http.MethodPut, "/v2/user/preferences/notifications/{name}/enable", "enable-notification-preference", "User", "Enable user's event notification preference"), s.handlePreferenceEnable)
	huma.Register(api, op(http.MethodPut, "/v2/user/preferences/notifications/{name}/disable", "disable-notification-preference", "User", "Disable user's event notification preference"), s.handlePreferenceDisable)
	huma.Register(api, created(op(http.MethodPost, "/v2/user/ssapi_key", "create-ssapi-key", "User", "Generate the SSAPI key (X-SSAPI-KEY for /api/ss)")), s.handleSSAPIKeyCreate)
	huma.Register(api, op(http.MethodDelete, "/v2/user/ssapi_key", "revoke-ssapi-key", "User", "Revoke the SSAPI key"), s.handleSSAPIKeyRevoke)

	// Users administration (CG §3.17); the fixed paths come before /v2/users/{id}.
	huma.Register(api, list(op(http.MethodGet, "/v2/users", "list-users", "Users", "List users"), vigil.UserList), s.handleUserList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/users", "create-user", "Users", "Create user")), "user"), s.handleUserCreate)
	huma.Register(api, created(op(http.MethodPost, "/v2/users/customer", "create-customer", "Users", "Create customer (user + organization)")), s.handleCustomerCreate)
	huma.Register(api, created(op(http.MethodPost, "/v2/users/invite", "invite-user", "Users", "Invite a user")), s.handleUserInvite)
	huma.Register(api, created(op(http.MethodPost, "/v2/users/import", "import-users", "Users", "Import users (multipart CSV in \"file\")")), s.handleUserImport)
	huma.Register(api, op(http.MethodGet, "/v2/users/export", "export-users", "Users", "Export users (CSV)"), s.handleUserExport)
	huma.Register(api, op(http.MethodGet, "/v2/users/{id}", "show-user", "Users", "Show a user"), s.handleUserShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/users/{id}", "update-user", "Users", "Update a user"), "user"), s.handleUserUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/users/{id}", "delete-user", "Users", "Delete a user"), s.handleUserDelete)
	huma.Register(api, op(http.MethodPost, "/v2/users/{id}/resend_confirmation", "resend-confirmation", "Users", "Resend confirmation"), s.handleResendConfirmation)
	huma.Register(api, op(http.MethodGet, "/v2/users/{id}/can_delete", "user-can-be-deleted", "Users", "Check if a user can be deleted"), s.handleUserCanDelete)
	huma.Register(api, op(http.MethodPut, "/v2/users/{id}/inherit_resources", "inherit-resources", "Users", "Inherit resources"), s.handleUserInherit)
	huma.Register(api, op(http.MethodPut, "/v2/users/{id}/set_partner", "set-partner", "Users", "Set partner"), s.handleSetPartner)
	huma.Register(api, op(http.MethodPut, "/v2/users/{id}/unset_partner", "unset-partner", "Users", "Unset partner"), s.handleUnsetPartner)

	// Organizations, subscriptions, plans (CG §3.16).
	huma.Register(api, created(op(http.MethodPost, "/v2/organizations/subscribe", "subscribe-current-organization", "Organizations", "Subscribe to a plan (current organization)")), s.handleSubscribeSelf)
	huma.Register(api, list(op(http.MethodGet, "/v2/organizations", "list-organizations", "Organizations", "List organizations"), vigil.OrganizationList), s.handleOrganizationList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/organizations", "create-organization", "Organizations", "Create Organization")), "organization"), s.handleOrganizationCreate)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/dependent_subscriptions", "dependent-subscriptions", "Organizations", "List dependent subscriptions"), s.handleDependentSubscriptions)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/export", "export-organizations", "Organizations", "Export organizations (CSV)"), s.handleOrganizationExport)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{id}", "show-organization", "Organizations", "Retrieve an organization"), s.handleOrganizationShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/organizations/{id}", "update-organization", "Organizations", "Update an organization"), "organization"), s.handleOrganizationUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/organizations/{id}", "delete-organization", "Organizations", "Delete an organization"), s.handleOrganizationDelete)
	huma.Register(api, created(op(http.MethodPost, "/v2/organizations/{id}/subscribe", "subscribe-organization", "Organizations", "Subscribe an organization to a plan")), s.handleOrganizationSubscribe)
	huma.Register(api, op(http.MethodPost, "/v2/organizations/{id}/unsubscribe", "unsubscribe-organization", "Organizations", "Unsubscribe an organization from a plan"), s.handleOrganizationUnsubscribe)
	huma.Register(api, op(http.MethodPut, "/v2/organizations/{id}/move_user", "move-user", "Organizations", "Change users Organization"), s.handleMoveUser)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{org_id}/subscriptions", "list-subscriptions", "Organizations", "Retrieves all subscriptions of organization"), s.handleSubscriptionList)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{org_id}/subscriptions/active", "list-active-subscriptions", "Organizations", "Retrieves all active subscriptions of organization"), s.handleSubscriptionActive)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{org_id}/subscriptions/{sub_id}", "show-subscription", "Organizations", "Show a subscription of organization"), s.handleSubscriptionShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/organizations/{org_id}/subscriptions/{sub_id}", "update-subscription", "Organizations", "Update organization's subscription"), "subscription"), s.handleSubscriptionUpdate)
	huma.Register(api, op(http.MethodPut, "/v2/organizations/{org_id}/subscriptions/{sub_id}/features", "assign-feature", "Organizations", "Assign a feature to a subscription"), s.handleFeatureAssign)
	huma.Register(api, op(http.MethodDelete, "/v2/organizations/{org_id}/subscriptions/{sub_id}/features/{feature}", "revoke-feature", "Organizations", "Revoke a feature of a subscription"), s.handleFeatureRevoke)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{org_id}/features", "organization-features", "Organizations", "Organization features"), s.handleOrganizationFeatures)
	huma.Register(api, op(http.MethodGet, "/v2/organizations/{org_id}/plans", "organization-plans", "Organizations", "Organization plans"), s.handleOrganizationPlans)
	huma.Register(api, op(http.MethodGet, "/v2/plans", "list-plans", "Plans", "List your plans (partners)"), s.handlePlanList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/plans", "create-plan", "Plans", "Create a plan")), "plan"), s.handlePlanCreate)
	huma.Register(api, op(http.MethodGet, "/v2/plans/{id}", "show-plan", "Plans", "Show a plan"), s.handlePlanShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/plans/{id}", "update-plan", "Plans", "Update a plan"), "plan"), s.handlePlanUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/plans/{id}", "delete-plan", "Plans", "Delete a plan"), s.handlePlanDelete)

	// Whitelabel settings (CG §3.18).
	huma.Register(api, op(http.MethodGet, "/v2/whitelabel_settings", "show-whitelabel", "Whitelabel Settings", "Show whitelabel settings"), s.handleWhitelabelShow)
	huma.Register(api, public(op(http.MethodGet, "/v2/whitelabel_settings/public", "show-public-whitelabel", "Whitelabel Settings", "Branding of a portal domain (no credentials; for login pages)")), s.handleWhitelabelPublic)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/whitelabel_settings", "update-whitelabel", "Whitelabel Settings", "Update whitelabel settings"), "whitelabel_setting"), s.handleWhitelabelUpdate)

	// Groups (CG style; the AttackForge SSAPI form is under /api/ss, ssapi.go).
	huma.Register(api, op(http.MethodGet, "/v2/groups", "list-groups", "Groups", "List groups"), s.handleGroupList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/groups", "create-group", "Groups", "Create a group")), "group"), s.handleGroupCreate)
	huma.Register(api, op(http.MethodGet, "/v2/groups/{id}", "show-group", "Groups", "Show a group with members and resources"), s.handleGroupShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/groups/{id}", "update-group", "Groups", "Update a group"), "group"), s.handleGroupUpdate)
	huma.Register(api, op(http.MethodPut, "/v2/groups/{id}/archive", "archive-group", "Groups", "Archive a group"), s.handleGroupArchive)
	huma.Register(api, op(http.MethodPut, "/v2/groups/{id}/restore", "restore-group", "Groups", "Restore a group"), s.handleGroupRestore)
	huma.Register(api, op(http.MethodPut, "/v2/groups/{id}/members/{user_id}", "set-group-member", "Groups", "Add a user or change its access level"), s.handleGroupMemberSet)
	huma.Register(api, op(http.MethodDelete, "/v2/groups/{id}/members/{user_id}", "remove-group-member", "Groups", "Remove a user from a group"), s.handleGroupMemberRemove)
	huma.Register(api, op(http.MethodPut, "/v2/groups/{id}/resources", "set-group-resources", "Groups", "Set the targets and scans of a group"), s.handleGroupResources)
	huma.Register(api, op(http.MethodGet, "/v2/users/{user_id}/groups", "user-groups", "Groups", "A user's groups"), s.handleUserGroups)
	s.ssapiRoutes()

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

	// Exceptions (CG §3.6); the fixed paths come before /v2/exceptions/{id}.
	huma.Register(api, list(op(http.MethodGet, "/v2/exceptions", "list-exceptions", "Exceptions", "List exceptions"), vigil.ExceptionList), s.handleExceptionList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/exceptions", "create-exception", "Exceptions", "Create exception (pending until a manager activates it)")), "exception"), s.handleExceptionCreate)
	huma.Register(api, op(http.MethodDelete, "/v2/exceptions", "delete-exceptions", "Exceptions", "Delete exceptions (bulk)"), s.handleExceptionBulkDelete)
	huma.Register(api, op(http.MethodGet, "/v2/exceptions/statistics", "exception-statistics", "Exceptions", "Show the exceptions statistics"), s.handleExceptionStatistics)
	huma.Register(api, op(http.MethodPut, "/v2/exceptions/activate", "activate-exceptions", "Exceptions", "Activate exceptions (managers and admins)"), s.handleExceptionActivate)
	huma.Register(api, op(http.MethodPut, "/v2/exceptions/reject", "reject-exceptions", "Exceptions", "Reject exceptions (managers and admins)"), s.handleExceptionReject)
	huma.Register(api, op(http.MethodPut, "/v2/exceptions/reset", "reset-exceptions", "Exceptions", "Reset exceptions to pending (managers and admins)"), s.handleExceptionReset)
	huma.Register(api, op(http.MethodGet, "/v2/exceptions/{id}", "show-exception", "Exceptions", "Show an exception"), s.handleExceptionShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/exceptions/{id}", "update-exception", "Exceptions", "Update exception"), "exception"), s.handleExceptionUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/exceptions/{id}", "delete-exception", "Exceptions", "Delete an exception"), s.handleExceptionDelete)
	huma.Register(api, list(op(http.MethodGet, "/v2/exceptions/{id}/details", "show-exception-details", "Exceptions", "Show exception details: the vulnerabilities it overrides (or would)"), vigil.FindingList), s.handleExceptionDetails)

	// Schedules (CG §3.7).
	huma.Register(api, list(op(http.MethodGet, "/v2/schedules", "list-schedules", "Schedules", "List schedules"), vigil.ScheduleList), s.handleScheduleList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/schedules", "create-schedule", "Schedules", "Create schedule")), "schedule"), s.handleScheduleCreate)
	huma.Register(api, op(http.MethodDelete, "/v2/schedules", "delete-schedules", "Schedules", "Delete schedules (bulk)"), s.handleScheduleBulkDelete)
	huma.Register(api, op(http.MethodPost, "/v2/schedules/calculate_first_date", "calculate-first-date", "Schedules", "Calculate first date (unsaved schedule or id)"), s.handleScheduleFirstDate)
	huma.Register(api, op(http.MethodPost, "/v2/schedules/calculate_next_date", "calculate-next-date", "Schedules", "Calculate the next n dates (unsaved schedule or id)"), s.handleScheduleNextDates)
	huma.Register(api, op(http.MethodGet, "/v2/schedules/{id}", "show-schedule", "Schedules", "Show a schedule"), s.handleScheduleShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/schedules/{id}", "update-schedule", "Schedules", "Update a schedule"), "schedule"), s.handleScheduleUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/schedules/{id}", "delete-schedule", "Schedules", "Delete a schedule"), s.handleScheduleDelete)
	huma.Register(api, op(http.MethodGet, "/v2/schedules/{id}/runs", "schedule-runs", "Schedules", "What the latest slots did: runs started, scans skipped"), s.handleScheduleRuns)

	// Webhooks (CG §3.8).
	huma.Register(api, op(http.MethodGet, "/v2/webhook_events", "list-webhook-events", "Webhooks", "List webhook events"), s.handleWebhookEvents)
	huma.Register(api, list(op(http.MethodGet, "/v2/webhooks", "list-webhooks", "Webhooks", "List webhooks"), vigil.WebhookList), s.handleWebhookList)
	huma.Register(api, wrap(created(op(http.MethodPost, "/v2/webhooks", "create-webhook", "Webhooks", "Create webhook")), "webhook"), s.handleWebhookCreate)
	huma.Register(api, op(http.MethodGet, "/v2/webhooks/{id}", "show-webhook", "Webhooks", "Show a webhook"), s.handleWebhookShow)
	huma.Register(api, wrap(op(http.MethodPut, "/v2/webhooks/{id}", "update-webhook", "Webhooks", "Update webhook"), "webhook"), s.handleWebhookUpdate)
	huma.Register(api, op(http.MethodDelete, "/v2/webhooks/{id}", "delete-webhook", "Webhooks", "Delete webhook"), s.handleWebhookDelete)
	huma.Register(api, op(http.MethodPut, "/v2/webhooks/{id}/activate", "activate-webhook", "Webhooks", "Activate webhook"), s.handleWebhookActivate)
	huma.Register(api, op(http.MethodPut, "/v2/webhooks/{id}/deactivate", "deactivate-webhook", "Webhooks", "Deactivate webhook"), s.handleWebhookDeactivate)
	huma.Register(api, op(http.MethodPost, "/v2/webhooks/{id}/rotate_secret", "rotate-webhook-secret", "Webhooks", "Rotate the signing secret (the new one is returned once)"), s.handleWebhookRotateSecret)
	huma.Register(api, list(op(http.MethodGet, "/v2/webhooks/{id}/deliveries", "list-webhook-deliveries", "Webhooks", "List webhook deliveries"), vigil.DeliveryList), s.handleDeliveryList)
	huma.Register(api, op(http.MethodGet, "/v2/webhooks/{id}/deliveries/{delivery_id}", "show-webhook-delivery", "Webhooks", "Show a delivery with every attempt"), s.handleDeliveryShow)
	huma.Register(api, op(http.MethodPost, "/v2/webhooks/{id}/deliveries/{delivery_id}/redeliver", "redeliver-webhook-delivery", "Webhooks", "Send a finished delivery again"), s.handleDeliveryRedeliver)

	// Notifications (CG §3.11); the fixed paths come before /v2/notifications/{id}.
	huma.Register(api, list(op(http.MethodGet, "/v2/notifications", "list-notifications", "Notifications", "List notifications (meta has unread_count and unseen_count)"), vigil.NotificationList), s.handleNotificationList)
	huma.Register(api, op(http.MethodPut, "/v2/notifications/read_all", "read-all-notifications", "Notifications", "Mark as read all notifications"), s.handleNotificationReadAll)
	huma.Register(api, op(http.MethodPut, "/v2/notifications/seen_all", "seen-all-notifications", "Notifications", "Mark as seen all notifications"), s.handleNotificationSeenAll)
	huma.Register(api, op(http.MethodGet, "/v2/notifications/{id}", "show-notification", "Notifications", "Show a notification"), s.handleNotificationShow)
	huma.Register(api, op(http.MethodDelete, "/v2/notifications/{id}", "delete-notification", "Notifications", "Delete a notification"), s.handleNotificationDelete)
	huma.Register(api, op(http.MethodPut, "/v2/notifications/{id}/read", "read-notification", "Notifications", "Mark as read a notification"), s.handleNotificationRead)
	huma.Register(api, op(http.MethodPut, "/v2/notifications/{id}/seen", "seen-notification", "Notifications", "Mark as seen a notification"), s.handleNotificationSeen)

	// Audit (CG §3.10).
	huma.Register(api, list(op(http.MethodGet, "/v2/audit/events", "list-audit-events", "Audit", "Get all events"), vigil.AuditList), s.handleAuditList)
	huma.Register(api, op(http.MethodGet, "/v2/audit/events/{id}", "show-audit-event", "Audit", "Get event by id"), s.handleAuditShow)

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
