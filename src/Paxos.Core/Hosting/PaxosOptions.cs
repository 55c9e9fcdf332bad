using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos;

/// <summary>
/// Everything tunable about a replica and the node that hosts it, bound from configuration (section
/// <see cref="SectionName"/>). The protocol's own settings (ids, cluster size, timeouts in ticks of the protocol
/// clock, window, batch and queue limits) are documented on <see cref="ProtocolOptions"/>, which
/// <see cref="ToProtocolOptions"/> makes for the replica; the rest (<see cref="ClusterId"/>, <see cref="TickInterval"/>,
/// <see cref="MaxInboxMessages"/>, <see cref="UnsafePreferInlineCompletions"/>, <see cref="DataDirectory"/>) are the
/// host's: <see cref="PaxosNode"/> ticks the replica every <see cref="TickInterval"/>. Options are validated once, when
/// a node is built (<see cref="PaxosOptionsValidator"/>), and an invalid value fails with a message naming it.
/// Defaults suit a cluster on one LAN.
/// </summary>
public sealed class PaxosOptions
{
    /// <summary>The name of the options section <c>services.AddPaxos</c> binds by default.</summary>
    public const string SectionName = "Paxos";

    // The protocol's defaults are stated once, on ProtocolOptions.
    private static readonly ProtocolOptions Defaults = new();

    /// <inheritdoc cref="ProtocolOptions.ReplicaId"/>
    public int ReplicaId { get; set; } = Defaults.ReplicaId;

    /// <summary>Names the cluster, as the transport's frames do (for example <c>UdpTransportOptions.ClusterId</c>, which
    /// must be the same): <see cref="PaxosNode"/> refuses a transport that names another cluster, and the data
    /// directory records it, so a replica never starts on another cluster's state. Default 0.</summary>
    public uint ClusterId { get; set; }

    /// <inheritdoc cref="ProtocolOptions.ClusterSize"/>
    public int ClusterSize { get; set; } = Defaults.ClusterSize;

    /// <summary>Wall-clock length of one tick, used by <see cref="PaxosNode"/>. From 1 ms to 10 s. Default 10 ms.</summary>
    public TimeSpan TickInterval { get; set; } = TimeSpan.FromMilliseconds(10);

    /// <inheritdoc cref="ProtocolOptions.ProgressTimeoutTicks"/>
    public int ProgressTimeoutTicks { get; set; } = Defaults.ProgressTimeoutTicks;

    /// <inheritdoc cref="ProtocolOptions.MaxProgressTimeoutTicks"/>
    public int MaxProgressTimeoutTicks { get; set; } = Defaults.MaxProgressTimeoutTicks;

    /// <inheritdoc cref="ProtocolOptions.LeaderHeartbeatTicks"/>
    public int LeaderHeartbeatTicks { get; set; } = Defaults.LeaderHeartbeatTicks;

    /// <inheritdoc cref="ProtocolOptions.ViewChangeRetransmitTicks"/>
    public int ViewChangeRetransmitTicks { get; set; } = Defaults.ViewChangeRetransmitTicks;

    /// <inheritdoc cref="ProtocolOptions.VcProofIntervalTicks"/>
    public int VcProofIntervalTicks { get; set; } = Defaults.VcProofIntervalTicks;

    /// <inheritdoc cref="ProtocolOptions.PrepareRetransmitTicks"/>
    public int PrepareRetransmitTicks { get; set; } = Defaults.PrepareRetransmitTicks;

    /// <inheritdoc cref="ProtocolOptions.ProposalRetransmitTicks"/>
    public int ProposalRetransmitTicks { get; set; } = Defaults.ProposalRetransmitTicks;

    /// <inheritdoc cref="ProtocolOptions.UpdateRetransmitTicks"/>
    public int UpdateRetransmitTicks { get; set; } = Defaults.UpdateRetransmitTicks;

    /// <inheritdoc cref="ProtocolOptions.AliveIntervalTicks"/>
    public int AliveIntervalTicks { get; set; } = Defaults.AliveIntervalTicks;

    /// <inheritdoc cref="ProtocolOptions.CatchUpDelayTicks"/>
    public int CatchUpDelayTicks { get; set; } = Defaults.CatchUpDelayTicks;

    /// <inheritdoc cref="ProtocolOptions.CatchUpTimeoutTicks"/>
    public int CatchUpTimeoutTicks { get; set; } = Defaults.CatchUpTimeoutTicks;

    /// <inheritdoc cref="ProtocolOptions.WindowSlots"/>
    public int WindowSlots { get; set; } = Defaults.WindowSlots;

    /// <inheritdoc cref="ProtocolOptions.MaxBatchUpdates"/>
    public int MaxBatchUpdates { get; set; } = Defaults.MaxBatchUpdates;

    /// <inheritdoc cref="ProtocolOptions.MaxMessageBytes"/>
    public int MaxMessageBytes { get; set; } = Defaults.MaxMessageBytes;

    /// <inheritdoc cref="ProtocolOptions.MaxUpdateBytes"/>
    public int MaxUpdateBytes { get; set; } = Defaults.MaxUpdateBytes;

    /// <inheritdoc cref="ProtocolOptions.MaxUpdateQueueLength"/>
    public int MaxUpdateQueueLength { get; set; } = Defaults.MaxUpdateQueueLength;

    /// <inheritdoc cref="ProtocolOptions.MaxPendingUpdates"/>
    public int MaxPendingUpdates { get; set; } = Defaults.MaxPendingUpdates;

    /// <inheritdoc cref="ProtocolOptions.MaxPendingReads"/>
    public int MaxPendingReads { get; set; } = Defaults.MaxPendingReads;

    /// <summary>How long <see cref="PaxosNode.ReadAsync"/> waits before it fails with <see cref="ReadFailure.Timeout"/>
    /// (turned into <see cref="ProtocolOptions.ReadTimeoutTicks"/>, rounded up to whole ticks). From 1 ms to 1 hour.
    /// Default 10 s.</summary>
    public TimeSpan ReadTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc cref="ProtocolOptions.ReadLeases"/>
    public bool ReadLeases { get; set; }

    /// <summary>The most any replica's clock may run fast or slow against real time, as a fraction (0.01 = 1 %): what read
    /// leases assume (<see cref="ReadLeases"/>; turned into <see cref="ProtocolOptions.MaxClockDriftPpm"/>, rounded up).
    /// From 0 to 0.9. Default 0.01.</summary>
    public double MaxClockDrift { get; set; } = 0.01;

    /// <inheritdoc cref="ProtocolOptions.CatchUpSlotsPerRequest"/>
    public int CatchUpSlotsPerRequest { get; set; } = Defaults.CatchUpSlotsPerRequest;

    /// <inheritdoc cref="ProtocolOptions.SnapshotIntervalSlots"/>
    public long SnapshotIntervalSlots { get; set; } = Defaults.SnapshotIntervalSlots;

    /// <inheritdoc cref="ProtocolOptions.RetainedSlots"/>
    public long RetainedSlots { get; set; } = Defaults.RetainedSlots;

    /// <inheritdoc cref="ProtocolOptions.ClientExpirySlots"/>
    public int ClientExpirySlots { get; set; } = Defaults.ClientExpirySlots;

    /// <summary>The bound of a <see cref="PaxosNode"/>'s inbox of peer messages and submissions; beyond it peer
    /// messages are dropped (and counted) and submissions refused as overloaded. From 16 to 10,000,000.
    /// Default 65,536.</summary>
    public int MaxInboxMessages { get; set; } = 65_536;

    /// <summary>How long <see cref="PaxosNode.SubmitAsync"/> (and session registration) waits for an answer before it
    /// fails with <see cref="SubmitFailure.TimedOut"/>, whose message says what the node knew (no leader, an election
    /// under way, an unanswered leader). <see cref="System.Threading.Timeout.InfiniteTimeSpan"/> waits for ever (only the caller's
    /// cancellation token ends the wait). From 1 ms to 1 day, or infinite. Default 10 s.</summary>
    public TimeSpan SubmitTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <inheritdoc cref="ProtocolOptions.LeaderSendsAccept"/>
    public bool LeaderSendsAccept { get; set; } = Defaults.LeaderSendsAccept;

    /// <summary>Whether <see cref="PaxosNode"/> completes the tasks <see cref="PaxosNode.SubmitAsync"/> and
    /// <see cref="PaxosNode.ReadAsync"/> return on the thread that ran the loop — often the transport's receive thread — once the loop is let go, instead of on the
    /// thread pool. That saves a thread wake-up per answer (on a small or virtualised machine a large part of a
    /// round trip), but the callers' continuations then run on that thread: if one blocks, the node stops
    /// receiving until it returns, and a submission made from a continuation is taken up only once the whole
    /// batch of answers is delivered (one Proposal for them all; a continuation that blocks waiting for its own
    /// next submission waits two turns of the clock; a read made from a continuation is likewise taken up once the
    /// delivery ends, so one confirmation round covers them all, and one that blocks waiting for its own read waits
    /// for the next tick). Turn it on only when every continuation after
    /// <c>await SubmitAsync</c> is short and never blocks (as ASP.NET Core's <c>UnsafePreferInlineScheduling</c>
    /// asks of its callers). Default false.</summary>
    public bool UnsafePreferInlineCompletions { get; set; }

    /// <summary>Where <see cref="PaxosNode"/> keeps this replica's write-ahead log (<see cref="FileReplicaStorage"/>),
    /// when the node is not given a storage of its own. Null (the default) keeps everything in memory: nothing
    /// survives the process, which suits tests and demos only.</summary>
    public string? DataDirectory { get; set; }

    /// <inheritdoc cref="ProtocolOptions.RebuildFromPeers"/>
    public bool RebuildFromPeers { get; set; } = Defaults.RebuildFromPeers;

    /// <inheritdoc cref="ProtocolOptions.AllowSameViewRejoin"/>
    public bool AllowSameViewRejoin { get; set; } = Defaults.AllowSameViewRejoin;

    /// <summary>The protocol's share of these options, for a <see cref="PaxosReplica"/>: a copy, so changing these
    /// options later does not change a replica built from it.</summary>
    /// <returns>The replica id, cluster size, timeouts, window, limits and protocol switches set here.</returns>
    public ProtocolOptions ToProtocolOptions() => new()
    {
        ReplicaId = ReplicaId,
        ClusterSize = ClusterSize,
        ProgressTimeoutTicks = ProgressTimeoutTicks,
        MaxProgressTimeoutTicks = MaxProgressTimeoutTicks,
        LeaderHeartbeatTicks = LeaderHeartbeatTicks,
        ViewChangeRetransmitTicks = ViewChangeRetransmitTicks,
        VcProofIntervalTicks = VcProofIntervalTicks,
        PrepareRetransmitTicks = PrepareRetransmitTicks,
        ProposalRetransmitTicks = ProposalRetransmitTicks,
        UpdateRetransmitTicks = UpdateRetransmitTicks,
        AliveIntervalTicks = AliveIntervalTicks,
        CatchUpDelayTicks = CatchUpDelayTicks,
        CatchUpTimeoutTicks = CatchUpTimeoutTicks,
        WindowSlots = WindowSlots,
        MaxBatchUpdates = MaxBatchUpdates,
        MaxMessageBytes = MaxMessageBytes,
        MaxUpdateBytes = MaxUpdateBytes,
        MaxUpdateQueueLength = MaxUpdateQueueLength,
        MaxPendingUpdates = MaxPendingUpdates,
        MaxPendingReads = MaxPendingReads,
        ReadTimeoutTicks = ReadTimeoutTicksOf(ReadTimeout, TickInterval),
        ReadLeases = ReadLeases,
        MaxClockDriftPpm = DriftPpmOf(MaxClockDrift),
        CatchUpSlotsPerRequest = CatchUpSlotsPerRequest,
        SnapshotIntervalSlots = SnapshotIntervalSlots,
        RetainedSlots = RetainedSlots,
        ClientExpirySlots = ClientExpirySlots,
        LeaderSendsAccept = LeaderSendsAccept,
        RebuildFromPeers = RebuildFromPeers,
        AllowSameViewRejoin = AllowSameViewRejoin,
    };

    /// <summary>A drift fraction in millionths, rounded up and kept in range (<see cref="PaxosOptionsValidator"/> names a
    /// value out of range by this option's own name).</summary>
    private static int DriftPpmOf(double drift) =>
        double.IsFinite(drift) ? (int)Math.Ceiling(Math.Clamp(drift, 0, 0.9) * 1_000_000) : 0;

    /// <summary>A read timeout in whole ticks, rounded up; at least 1, and out of range (so validation names it) when the
    /// timeout or the tick interval is not positive.</summary>
    private static int ReadTimeoutTicksOf(TimeSpan timeout, TimeSpan tick)
    {
        if (timeout <= TimeSpan.Zero || tick <= TimeSpan.Zero)
        {
            return 0;
        }

        var ticks = Math.Ceiling(timeout.TotalMilliseconds / tick.TotalMilliseconds);
        return ticks >= int.MaxValue ? int.MaxValue : Math.Max(1, (int)ticks);
    }
}
