package httpapi

import (
	"context"

	"github.com/vigilscan/vigil"
)

// Notifications (CG §3.11): the current user's in-app notices, created
// for the events their notification preferences ask for.

// NotificationJSON is a notification on the wire.
type NotificationJSON struct {
	ID               string         `json:"id" format:"uuid"`
	NotificationType string         `json:"notification_type" enum:"scan_event,report_event,exception_event,overdue_pci_reminder"`
	Event            string         `json:"event" example:"scan_completed"`
	Title            string         `json:"title" example:"Scan Weekly external completed"`
	Message          string         `json:"message"`
	ResourceType     string         `json:"resource_type" example:"scan"`
	ResourceID       string         `json:"resource_id"`
	Data             map[string]any `json:"data" doc:"The event's data, as webhooks receive it"`
	Read             bool           `json:"read"`
	Seen             bool           `json:"seen"`
	ReadAt           *Timestamp     `json:"read_at" nullable:"true"`
	SeenAt           *Timestamp     `json:"seen_at" nullable:"true"`
	CreatedAt        Timestamp      `json:"created_at"`
}

func notificationJSON(n *vigil.Notification) NotificationJSON {
	data := n.Data
	if data == nil {
		data = map[string]any{}
	}
	return NotificationJSON{ID: n.ID, NotificationType: n.Type, Event: n.Event, Title: n.Title, Message: n.Message,
		ResourceType: n.ResourceType, ResourceID: n.ResourceID, Data: data, Read: n.ReadAt != nil, Seen: n.SeenAt != nil,
		ReadAt: tsp(n.ReadAt), SeenAt: tsp(n.SeenAt), CreatedAt: ts(n.CreatedAt)}
}

// NotificationMeta is the list meta with the user's counts.
type NotificationMeta struct {
	vigil.ListMeta
	Unread int `json:"unread_count" doc:"Of all the user's notifications, not only this page"`
	Unseen int `json:"unseen_count"`
}

// NotificationListOutput is GET /v2/notifications.
type NotificationListOutput struct {
	Body struct {
		Data []NotificationJSON `json:"data"`
		Meta NotificationMeta   `json:"meta"`
	}
}

func (s *Server) handleNotificationList(ctx context.Context, in *struct{ ListParams }) (*NotificationListOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	opts, err := in.Options(vigil.NotificationList, s.now())
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	ns, total, err := s.Notices.FindNotifications(ctx, p.OrganizationID, p.UserID, opts)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	counts, err := s.Notices.CountNotifications(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	out := &NotificationListOutput{}
	out.Body.Data = make([]NotificationJSON, len(ns))
	for i, n := range ns {
		out.Body.Data[i] = notificationJSON(n)
	}
	out.Body.Meta = NotificationMeta{ListMeta: vigil.NewListMeta(opts, total), Unread: counts.Unread, Unseen: counts.Unseen}
	return out, nil
}

func (s *Server) handleNotificationShow(ctx context.Context, in *IDPath) (*DataOutput[NotificationJSON], error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	n, err := s.Notices.FindNotificationByID(ctx, p.OrganizationID, p.UserID, in.ID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	return dataOutput(notificationJSON(n)), nil
}

func (s *Server) handleNotificationDelete(ctx context.Context, in *IDPath) (*DeleteOutput, error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	if err := s.Notices.DeleteNotification(ctx, p.OrganizationID, p.UserID, in.ID); err != nil {
		return nil, fail(ctx, s.log, err)
	}
	s.audit(ctx, "notification.delete", "notification", in.ID, nil)
	return deleteOutput([]string{in.ID}), nil
}

// MarkedJSON counts notifications a mark changed.
type MarkedJSON struct {
	Updated int `json:"updated"`
	Unread  int `json:"unread_count"`
	Unseen  int `json:"unseen_count"`
}

func (s *Server) mark(ctx context.Context, id string, read bool) (*DataOutput[MarkedJSON], error) {
	p, err := permit(ctx, vigil.PermOwnAccount)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	n, err := s.Notices.MarkNotifications(ctx, p.OrganizationID, p.UserID, id, read)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	counts, err := s.Notices.CountNotifications(ctx, p.OrganizationID, p.UserID)
	if err != nil {
		return nil, fail(ctx, s.log, err)
	}
	action := "notification.seen"
	if read {
		action = "notification.read"
	}
	s.audit(ctx, action, "notification", id, map[string]any{"updated": n})
	return dataOutput(MarkedJSON{Updated: n, Unread: counts.Unread, Unseen: counts.Unseen}), nil
}

func (s *Server) handleNotificationRead(ctx context.Context, in *IDPath) (*DataOutput[MarkedJSON], error) {
	return s.mark(ctx, in.ID, true)
}

func (s *Server) handleNotificationSeen(ctx context.Context, in *IDPath) (*DataOutput[MarkedJSON], error) {
	return s.mark(ctx, in.ID, false)
}

func (s *Server) handleNotificationReadAll(ctx context.Context, _ *struct{}) (*DataOutput[MarkedJSON], error) {
	return s.mark(ctx, "", true)
}

func (s *Server) handleNotificationSeenAll(ctx context.Context, _ *struct{}) (*DataOutput[MarkedJSON], error) {
	return s.mark(ctx, "", false)
}
