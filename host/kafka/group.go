package kafka

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
)

// GroupProtocol is one protocol a member offers when it joins, with its
// metadata (for Connect, an encoded WorkerState).
type GroupProtocol struct {
	Name     string
	Metadata []byte
}

// GroupMemberInfo is one member of the group as the leader learns of it.
type GroupMemberInfo struct {
	ID       string
	Metadata []byte // for the protocol the group chose
}

// JoinResult is the outcome of a join: this member's id and generation,
// the protocol the coordinator chose, and, for the leader, every member.
type JoinResult struct {
	MemberID   string
	Generation int32
	Protocol   string
	LeaderID   string
	// Members is set for the leader only: it assigns their work.
	Members []GroupMemberInfo
}

// Leader reports whether the coordinator named this member the leader:
// it must compute every member's assignment. Whether it leads is for the
// synced assignment to say (see GroupMember).
func (r JoinResult) Leader() bool { return r.MemberID == r.LeaderID }

// Errors a member sees when the group changes under it.
var (
	// ErrRebalance means the group is rebalancing: join again.
	ErrRebalance = errors.New("group is rebalancing")
	// ErrFenced means the coordinator no longer knows this member or its
	// generation (its session expired, say): join again as a new member.
	ErrFenced = errors.New("member is no longer in the group")
)

// GroupMember is a worker's membership of a Kafka Connect group, over
// Kafka's group coordinator with protocol type "connect": the requests
// Kafka Connect's WorkerCoordinator sends (JoinGroup, SyncGroup,
// Heartbeat, LeaveGroup). librdkafka has no API for a custom group
// protocol, so it speaks them with franz-go's request types. It does not
// heartbeat by itself: its owner calls Heartbeat every
// heartbeat.interval.ms. Methods are for one goroutine at a time.
//
// Who leads: the embedded broker (kfake, as of 2026-09) names every member
// the leader in its JoinGroup responses when the previous leader has left
// the group, and then takes the assignments of the last one only. So a
// member must take the leader named in the assignment it synced (Kafka
// Connect's assignments carry the leader's id), not JoinResult.Leader
// alone: only that one may act as the leader.
type GroupMember struct {
	cl               *kgo.Client
	group            string
	sessionTimeout   time.Duration
	rebalanceTimeout time.Duration

	memberID   string
	generation int32
	protocol   string
}

// NewGroupMember makes a member of group; it joins nothing until Join.
// Only plaintext connections are supported so far.
func NewGroupMember(bootstrap, group, clientID string, sessionTimeout, rebalanceTimeout time.Duration) (*GroupMember, error) {
	cl, err := kgo.NewClient(kgo.SeedBrokers(strings.Split(bootstrap, ",")...), kgo.ClientID(clientID))
	if err != nil {
		return nil, fmt.Errorf("group %s: %w", group, err)
	}
	return &GroupMember{cl: cl, group: group, sessionTimeout: sessionTimeout, rebalanceTimeout: rebalanceTimeout}, nil
}

// Join joins (or rejoins) the group offering protocols in order of
// preference, and waits until the coordinator has formed the generation.
func (m *GroupMember) Join(ctx context.Context, protocols []GroupProtocol) (JoinResult, error) {
	for {
		req := kmsg.NewPtrJoinGroupRequest()
		req.Group = m.group
		req.SessionTimeoutMillis = int32(m.sessionTimeout.Milliseconds())
		req.RebalanceTimeoutMillis = int32(m.rebalanceTimeout.Milliseconds())
		req.MemberID = m.memberID
		req.ProtocolType = ConnectProtocolType
		for _, p := range protocols {
			rp := kmsg.NewJoinGroupRequestProtocol()
			rp.Name, rp.Metadata = p.Name, p.Metadata
			req.Protocols = append(req.Protocols, rp)
		}
		resp, err := req.RequestWith(ctx, m.cl)
		if err != nil {
			return JoinResult{}, fmt.Errorf("join group %s: %w", m.group, err)
		}
		switch err := kerr.ErrorForCode(resp.ErrorCode); {
		case errors.Is(err, kerr.MemberIDRequired):
			// KIP-394: join again with the id the coordinator gave.
			m.memberID = resp.MemberID
			continue
		case errors.Is(err, kerr.UnknownMemberID):
			m.memberID = ""
			continue
		case errors.Is(err, kerr.RebalanceInProgress), errors.Is(err, kerr.CoordinatorLoadInProgress):
			if err := sleep(ctx, 100*time.Millisecond); err != nil {
				return JoinResult{}, err
			}
			continue
		case err != nil:
			return JoinResult{}, fmt.Errorf("join group %s: %w", m.group, err)
		}
		m.memberID, m.generation = resp.MemberID, resp.Generation
		if resp.Protocol != nil {
			m.protocol = *resp.Protocol
		}
		out := JoinResult{MemberID: resp.MemberID, Generation: resp.Generation, Protocol: m.protocol, LeaderID: resp.LeaderID}
		for _, mem := range resp.Members {
			out.Members = append(out.Members, GroupMemberInfo{ID: mem.MemberID, Metadata: mem.ProtocolMetadata})
		}
		return out, nil
	}
}

// Sync completes a join: the leader hands in every member's assignment
// (others nil), and each member gets its own.
func (m *GroupMember) Sync(ctx context.Context, assignments map[string][]byte) ([]byte, error) {
	req := kmsg.NewPtrSyncGroupRequest()
	req.Group, req.Generation, req.MemberID = m.group, m.generation, m.memberID
	protocolType, protocol := ConnectProtocolType, m.protocol
	req.ProtocolType, req.Protocol = &protocolType, &protocol
	for id, a := range assignments {
		ga := kmsg.NewSyncGroupRequestGroupAssignment()
		ga.MemberID, ga.MemberAssignment = id, a
		req.GroupAssignment = append(req.GroupAssignment, ga)
	}
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		return nil, fmt.Errorf("sync group %s: %w", m.group, err)
	}
	if err := m.groupErr(resp.ErrorCode); err != nil {
		return nil, fmt.Errorf("sync group %s: %w", m.group, err)
	}
	return resp.MemberAssignment, nil
}

// Heartbeat tells the coordinator the member is alive. ErrRebalance asks
// the member to join again; ErrFenced, to join again as a new member.
func (m *GroupMember) Heartbeat(ctx context.Context) error {
	req := kmsg.NewPtrHeartbeatRequest()
	req.Group, req.Generation, req.MemberID = m.group, m.generation, m.memberID
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		return fmt.Errorf("heartbeat to group %s: %w", m.group, err)
	}
	return m.groupErr(resp.ErrorCode)
}

// groupErr maps a coordinator's answer to ErrRebalance and ErrFenced; a
// fenced member forgets its id.
func (m *GroupMember) groupErr(code int16) error {
	err := kerr.ErrorForCode(code)
	switch {
	case err == nil:
		return nil
	case errors.Is(err, kerr.RebalanceInProgress):
		return ErrRebalance
	case errors.Is(err, kerr.UnknownMemberID), errors.Is(err, kerr.IllegalGeneration), errors.Is(err, kerr.FencedInstanceID):
		m.memberID, m.generation = "", -1
		return fmt.Errorf("%w: %v", ErrFenced, err)
	}
	return err
}

// Leave leaves the group, so that its work moves at once instead of when
// the session expires, and closes the member.
func (m *GroupMember) Leave(ctx context.Context) error {
	defer m.cl.Close()
	if m.memberID == "" {
		return nil
	}
	req := kmsg.NewPtrLeaveGroupRequest()
	req.Group = m.group
	req.MemberID = m.memberID
	member := kmsg.NewLeaveGroupRequestMember()
	member.MemberID = m.memberID
	req.Members = append(req.Members, member)
	resp, err := req.RequestWith(ctx, m.cl)
	if err != nil {
		return fmt.Errorf("leave group %s: %w", m.group, err)
	}
	if err := kerr.ErrorForCode(resp.ErrorCode); err != nil {
		return fmt.Errorf("leave group %s: %w", m.group, err)
	}
	return nil
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
