namespace Paxos;

/// <summary>The three protocol states of PfSB (TR Fig. 2, <c>State</c>).</summary>
public enum ReplicaState
{
    /// <summary><c>LEADER_ELECTION</c>: trying to install a view. A leader that is running its Prepare
    /// phase is also in this state (TR §5.4).</summary>
    LeaderElection = 0,

    /// <summary><c>REG_LEADER</c>: the prepared leader of the installed view; it orders updates.</summary>
    RegularLeader = 1,

    /// <summary><c>REG_NONLEADER</c>: a non-leader member of the installed view; it accepts Proposals.</summary>
    RegularNonLeader = 2,
}

/// <summary>A read-only view of a replica's protocol state.</summary>
/// <param name="Id">The replica's id.</param>
/// <param name="State">The protocol state.</param>
/// <param name="LastAttempted">The last view the replica tried to install.</param>
/// <param name="LastInstalled">The last view the replica installed.</param>
/// <param name="Leader">The leader of <paramref name="LastAttempted"/>.</param>
/// <param name="LocalAru">Every slot up to this one is ordered and executed here.</param>
/// <param name="LastProposed">The leader's last proposed slot.</param>
/// <param name="UpdateQueueLength">Updates waiting for the leader to bind them.</param>
/// <param name="PendingUpdates">Local updates this replica is responsible for.</param>
/// <param name="IsFaulted">Whether the replica stopped after a broken invariant.</param>
/// <param name="IsRebuilding">Whether the replica is rebuilding lost state and does not vote yet.</param>
public readonly record struct ReplicaStatus(
    ReplicaId Id,
    ReplicaState State,
    ViewNumber LastAttempted,
    ViewNumber LastInstalled,
    ReplicaId Leader,
    SequenceNumber LocalAru,
    SequenceNumber LastProposed,
    int UpdateQueueLength,
    int PendingUpdates,
    bool IsFaulted,
    bool IsRebuilding = false)
{
    /// <summary>The client table's expiry mark: the highest timestamp a client that the table forgot had executed (0
    /// while none was forgotten). An update of a client the table does not remember executes only with a timestamp
    /// above it (docs/protocol-notes.md, "Client table bound and expiry").</summary>
    public long ExpiredThrough { get; init; }

    /// <summary>How many clients the client table remembers; at most <see cref="Protocol.ProtocolOptions.ClientExpirySlots"/>.</summary>
    public int ClientTableCount { get; init; }

    /// <summary>A timestamp a new session may start at: the first update of a client the cluster does not remember (a new
    /// client id, or one whose update was refused as expired) should carry this or a higher one, and the client's
    /// later updates count up from it. It is above <see cref="LocalAru"/> and <see cref="ExpiredThrough"/>, so the
    /// update is accepted if it is ordered within <see cref="Protocol.ProtocolOptions.ClientExpirySlots"/> slots and
    /// clients' timestamps stay below their slots (as they do when every session starts here or at 1, before anything
    /// expired).</summary>
    public long SessionStartTimestamp => Math.Max(LocalAru.Value, ExpiredThrough) + 1;
}
