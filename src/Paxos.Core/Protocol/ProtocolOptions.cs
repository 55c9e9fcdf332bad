using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>
/// What the protocol itself needs to know: which replica this is in a cluster of how many, its timeouts in
/// ticks of the protocol clock (one <see cref="PaxosReplica.Tick()"/> each), its window and its limits on batches,
/// messages and queues. <see cref="PaxosReplica"/> takes these and validates them when it is built
/// (<see cref="ProtocolOptionsValidator"/>); an invalid value fails with a message naming it. How a host runs the
/// replica (wall-clock tick length, data directory, inbox bound, cluster id) is not here but in
/// <see cref="PaxosOptions"/>, whose <see cref="PaxosOptions.ToProtocolOptions"/> makes these from the same
/// configuration. Defaults suit a cluster on one LAN.
/// </summary>
public sealed class ProtocolOptions
{
    /// <summary>This replica's id, from 0 to <see cref="ClusterSize"/> − 1. Default 0.</summary>
    public int ReplicaId { get; init; }

    /// <summary>The number of replicas N, from 1 to 64. A majority (⌊N/2⌋+1) must be up and connected for
    /// progress; N = 2f+1 tolerates f crashed replicas. Default 3.</summary>
    public int ClusterSize { get; init; } = 3;

    /// <summary>The base <c>Progress_Timer</c>: how long a replica waits without progress before it suspects
    /// the leader and starts a view change. It doubles at each preinstall (capped by
    /// <see cref="MaxProgressTimeoutTicks"/>) and returns to this base after progress (G5 in docs/protocol-notes.md).
    /// At least 4. Default 100 (1 s at the node's default tick of 10 ms).</summary>
    public int ProgressTimeoutTicks { get; init; } = 100;

    /// <summary>The cap on the doubled <c>Progress_Timer</c>; at least twice <see cref="ProgressTimeoutTicks"/>.
    /// The doubling is what lets elections settle when delays or clock rates differ between replicas (TR
    /// §5.3); with no room to double, a fast replica can keep abandoning each view before a slow one joins
    /// it. Default 3200 (32× the base; 32 s at 10 ms a tick).</summary>
    public int MaxProgressTimeoutTicks { get; init; } = 3200;

    /// <summary>How long an idle leader waits before it orders a no-op, so that a healthy idle cluster never
    /// changes view (G6). At least 1 and less than half of <see cref="ProgressTimeoutTicks"/>. Default 25.</summary>
    public int LeaderHeartbeatTicks { get; init; } = 25;

    /// <summary>Period of <c>View_Change</c> retransmission during leader election. At least 1. Default 20.</summary>
    public int ViewChangeRetransmitTicks { get; init; } = 20;

    /// <summary>Period of <c>VC_Proof</c> messages. At least 1. Default 50.</summary>
    public int VcProofIntervalTicks { get; init; } = 50;

    /// <summary>Period of <c>Prepare</c> retransmission while the leader prepares its view. At least 1. Default 10.</summary>
    public int PrepareRetransmitTicks { get; init; } = 10;

    /// <summary>How long the leader waits before it re-sends a Proposal that is not yet ordered. At least 1. Default 10.</summary>
    public int ProposalRetransmitTicks { get; init; } = 10;

    /// <summary>The <c>Update_Timer</c>: how long an origin replica waits before it forwards a pending local
    /// update to the leader again. At least 1. Default 50.</summary>
    public int UpdateRetransmitTicks { get; init; } = 50;

    /// <summary>Period of the <c>Alive</c> message that advertises this replica's <c>Local_Aru</c>
    /// (anti-entropy). At least 1. Default 20.</summary>
    public int AliveIntervalTicks { get; init; } = 20;

    /// <summary>How long a replica that learned it is behind waits before it asks a peer for the missing
    /// updates, so that updates already on their way are not fetched twice. At least 0. Default 3.</summary>
    public int CatchUpDelayTicks { get; init; } = 3;

    /// <summary>How long a catch-up request waits for an answer before it asks another peer. At least 1. Default 20.</summary>
    public int CatchUpTimeoutTicks { get; init; } = 20;

    /// <summary>The ordering window W: the leader proposes slot s only once it has executed s − W, and a
    /// non-leader accepts a Proposal only within 2W of its own <c>Local_Aru</c> (beyond, it catches up
    /// instead). It also bounds how far behind a preparing leader may be before a replica makes it catch
    /// up first. From <see cref="MaxBatchUpdates"/> to 1,000,000. Default 1024.</summary>
    public int WindowSlots { get; init; } = 1024;

    /// <summary>The most updates one Proposal carries. From 1 to 4096. Default 64.</summary>
    public int MaxBatchUpdates { get; init; } = 64;

    /// <summary>The largest message body a replica builds, in bytes: Proposals, data lists and catch-up
    /// answers are split to fit. Keep it within the transport's datagram size. From 512 to 65,000.
    /// Default 1400, which fits an Ethernet frame with room for the transport's header.</summary>
    public int MaxMessageBytes { get; init; } = 1400;

    /// <summary>The largest update payload <see cref="PaxosReplica.Submit"/> accepts, in bytes. At most
    /// <see cref="MaxMessageBytes"/> − <see cref="MessageSizes.MaxUpdateOverheadBytes"/>. Default 1024.</summary>
    public int MaxUpdateBytes { get; init; } = 1024;

    /// <summary>The bound of the leader's <c>Update_Queue</c>; updates forwarded beyond it are dropped and
    /// counted (their origin forwards them again). At least 1. Default 8192.</summary>
    public int MaxUpdateQueueLength { get; init; } = 8192;

    /// <summary>The most local updates a replica is responsible for at once (<c>Pending_Updates</c>);
    /// beyond it <see cref="PaxosReplica.Submit"/> answers <see cref="SubmitStatus.Overloaded"/>. At least 1. Default 4096.</summary>
    public int MaxPendingUpdates { get; init; } = 4096;

    /// <summary>The most linearizable reads a replica holds at once: its own reads waiting for confirmation or execution,
    /// plus, at the leader, peers' read-index requests waiting for a confirmation round. Beyond it a new read fails with
    /// <see cref="ReadFailure.Overloaded"/> and a peer's request is dropped and counted. From 1 to 1,000,000. Default 4096.</summary>
    public int MaxPendingReads { get; init; } = 4096;

    /// <summary>How long a read may wait, in ticks, before it fails with <see cref="ReadFailure.Timeout"/>. A read waits
    /// for a majority to confirm the leader and for execution through its read index. From 1 to 100,000,000. Default 1000.</summary>
    public int ReadTimeoutTicks { get; init; } = 1000;

    /// <summary>
    /// Whether replicas grant, and a regular leader uses, read leases: a peer that confirms the leader for a read also
    /// promises not to vote for a later view for as long as its <c>Progress_Timer</c> still has to run (at most
    /// <see cref="ProgressTimeoutTicks"/>), and the leader, holding such promises from a majority, serves reads for a
    /// while without a confirmation round (docs/protocol-notes.md, "Read leases"). A lease is only as safe as its
    /// clocks: no replica's tick may run faster or slower than nominal by more than <see cref="MaxClockDriftPpm"/>, and
    /// a host must tick the replica as its clock runs, before it hands it anything after a stall
    /// (<see cref="PaxosReplica.Tick(int)"/>), and every replica must use the same tick length. A replica
    /// with leases on holds its vote for <see cref="ProgressTimeoutTicks"/> after it starts, because a restart forgets the
    /// promises it made. Every replica should use the same setting: one with leases off grants none. Default false.
    /// </summary>
    public bool ReadLeases { get; init; }

    /// <summary>The most any replica's ticks may run fast or slow against real time, in millionths (10,000 = 1 %). A
    /// lease lasts a peer's promise shortened by the factor (1 − drift) / (1 + drift), and two ticks less. From 0 to
    /// 900,000. Default 10,000.</summary>
    public int MaxClockDriftPpm { get; init; } = 10_000;

    /// <summary>How long the client table remembers a client, in slots: a client whose last update executed at slot
    /// <c>l</c> is forgotten when slot <c>l</c> + this executes, so the table holds at most this many clients (one
    /// update executes per slot). A forgotten client's update is refused, never executed, unless its timestamp is above
    /// the expiry mark, the highest timestamp a forgotten client had executed; so a client silent for longer than this
    /// must start a new session (<see cref="ReplicaStatus.SessionStartTimestamp"/>; docs/protocol-notes.md, "Client
    /// table bound and expiry"). It decides which updates execute, so every replica must use the same value, and it
    /// must not change while the cluster has a history. From 1 to 100,000,000. Default 1,000,000.</summary>
    public int ClientExpirySlots { get; init; } = 1_000_000;

    /// <summary>The most slots one catch-up request asks for (and one answer carries, split into
    /// messages that each fit <see cref="MaxMessageBytes"/>). From 1 to 65,536. Default 1024.</summary>
    public int CatchUpSlotsPerRequest { get; init; } = 1024;

    /// <summary>How many updates execute between two snapshots, when the executor takes snapshots
    /// (<see cref="ISnapshotExecutor"/>); 0 never takes one. A snapshot lets the replica release the history and the
    /// log it covers (minus <see cref="RetainedSlots"/>) and bring a replica that is further behind up to date by state
    /// transfer. From 0 to 1,000,000,000. Default 100,000.</summary>
    public long SnapshotIntervalSlots { get; init; } = 100_000;

    /// <summary>How many executed slots below the newest durable snapshot the replica keeps in memory, so that a peer
    /// a little behind catches up from them instead of needing a snapshot. From 0 to 1,000,000,000. Default 10,000.</summary>
    public long RetainedSlots { get; init; } = 10_000;

    /// <summary>Whether the leader sends each Proposal before its own write of it is durable, and acknowledges it
    /// with an explicit Accept once it is (PfSB TR §4.4, §6.1; the variant the TR's disk benchmarks and the
    /// authors' implementation use). The leader's write then runs in parallel with its peers' instead of before
    /// them, which nearly halves latency when writes are fsynced; it costs one more message per Proposal per
    /// peer. Each Proposal says which way it was sent, so replicas may differ in this setting. Default false.</summary>
    public bool LeaderSendsAccept { get; init; }

    /// <summary>Set when this replica's stable storage was lost or wiped while the cluster already existed.
    /// With empty storage the replica then rebuilds from its peers: it learns the views a majority of the
    /// others installed, joins only a view its leader is leading, accepts that view's Proposals, and votes
    /// in a Prepare phase only once it has executed everything the leader had proposed when it joined — it
    /// never votes on state it forgot (G16; docs/protocol-notes.md, "Rebuilding a lost disk"). Never set it
    /// on every replica of a new cluster: a rebuilding replica does not lead. Ignored when the storage is not
    /// empty. Default false.</summary>
    public bool RebuildFromPeers { get; init; }

    /// <summary>Whether a non-leader that left a view (its timer expired, or it restarted) may rejoin that
    /// same view when a peer's <c>VC_Proof</c> shows it is still installed (G15 in docs/protocol-notes.md). Safe:
    /// the replica promised exactly that view. Default true.</summary>
    public bool AllowSameViewRejoin { get; init; } = true;
}
