using System.Globalization;
using System.Text;
using Microsoft.Extensions.Logging;
using Paxos.Messages;
using Paxos.Protocol;

namespace Paxos.Simulation;

/// <summary>The outcome of one seed.</summary>
public sealed class SimulationResult
{
    /// <summary>The seed.</summary>
    public ulong Seed { get; init; }

    /// <summary>Whether every property held.</summary>
    public bool Passed => Failure is null;

    /// <summary>What broke, with the last events before it and the command that replays the seed.</summary>
    public string? Failure { get; init; }

    /// <summary>Events processed.</summary>
    public long Events { get; init; }

    /// <summary>A hash of every event in order: the same seed must give the same hash.</summary>
    public ulong TraceHash { get; init; }

    /// <summary>Virtual time simulated, in microseconds.</summary>
    public long VirtualMicros { get; init; }

    /// <summary>Updates acknowledged to clients.</summary>
    public int Acknowledged { get; init; }

    /// <summary>Linearizable reads served and checked against the acknowledged history.</summary>
    public long ReadsChecked { get; init; }

    /// <summary>Reads, local or a peer's index request, that leaders took under a lease.</summary>
    public long ReadsUnderLease { get; init; }

    /// <summary>The highest slot executed.</summary>
    public long HighestSlot { get; init; }

    /// <summary>Which coverage probes the run reached.</summary>
    public CoverageProbes Probes { get; init; }

    /// <summary>The profile the seed was drawn from.</summary>
    public SimulationProfile Profile { get; init; }

    /// <summary>What the lost-disk profile's aimed faults did (all zero in the default profile).</summary>
    public LostDiskFaultCounts LostDisk { get; init; }

    /// <summary>What snapshots did: taken, made durable, installed, and the faults that struck them.</summary>
    public SnapshotCounts Snapshots { get; init; }
    /// <summary>Whether the run ended with a checked stability stretch, and if not, why.</summary>
    public StabilityStretch Stability { get; init; }

    /// <summary>Crashes aimed right after a replica acknowledged something (<see cref="FaultProfile.CrashAfterAcknowledgementRate"/>).</summary>
    public int CrashesAfterAcknowledgement { get; init; }

    /// <summary>What the clients that work through sessions, and the executor's rejections, did.</summary>
    public SessionCounts Sessions { get; init; }
}

/// <summary>What sessions and rejections did in a run, as the clients saw it.</summary>
/// <param name="Registered">Registrations a waiting client was answered (each starts a session).</param>
/// <param name="UpdatesAcknowledged">Session updates a waiting client was answered.</param>
/// <param name="Expired">Session updates refused because their session expired (the client registers again).</param>
/// <param name="Rejected">Updates a waiting client was answered as rejected by the executor.</param>
public readonly record struct SessionCounts(int Registered, int UpdatesAcknowledged, int Expired, int Rejected)
{
    /// <summary>Adds two runs' counts.</summary>
    public static SessionCounts operator +(SessionCounts a, SessionCounts b) =>
        new(a.Registered + b.Registered, a.UpdatesAcknowledged + b.UpdatesAcknowledged, a.Expired + b.Expired, a.Rejected + b.Rejected);

    /// <summary>Adds two runs' counts.</summary>
    public static SessionCounts Add(SessionCounts a, SessionCounts b) => a + b;

    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"sessions registered {Registered}, session updates acknowledged {UpdatesAcknowledged}, sessions expired {Expired}; updates rejected {Rejected}");
}

/// <summary>What became of a run's stability stretch: a fault-free stretch with client load, then an idle one, in
/// which no replica of the established view may start an election.</summary>
public enum StabilityStretch
{
    /// <summary>The run failed before it reached the stretch.</summary>
    NotReached,

    /// <summary>No leader was established, with a majority of replicas in its view each ordering in it, within the
    /// bound, so there was nothing to keep stable.</summary>
    NotSettled,

    /// <summary>The seed's timers and clocks leave too little margin for stability to be owed (a heartbeat period plus
    /// the ordering latency does not fit well inside a progress timeout), so the stretch was not checked.</summary>
    OutsideEnvelope,

    /// <summary>The stretch ran and no replica of the view started an election.</summary>
    Checked,
}

/// <summary>What the aimed faults of <see cref="SimulationProfile.LostDisk"/> did in one run.</summary>
/// <param name="AfterPrepareOk">Disks lost after their replica promised a view at most a bare majority had installed.</param>
/// <param name="InElection">Disks lost while their replica ran a leader election.</param>
/// <param name="Holds">Times a preparing leader's links to all replicas but one were held back.</param>
/// <param name="MostWithoutIntactState">The most replicas without intact state (wiped, or rebuilding) at once.</param>
/// <param name="JoinsBelowForgottenPromise">Near misses: a rebuilding replica joined a view below one it promised before
/// its disk was lost.</param>
/// <param name="RebuildsDoneBelowEarlierSlots">Near misses: a replica finished its rebuild without having executed a slot
/// that some replica had executed before its disk was lost.</param>
public readonly record struct LostDiskFaultCounts(int AfterPrepareOk, int InElection, int Holds, int MostWithoutIntactState, int JoinsBelowForgottenPromise, int RebuildsDoneBelowEarlierSlots)
{
    /// <inheritdoc />
    public override string ToString() => string.Create(
        CultureInfo.InvariantCulture,
        $"lost disks after a Prepare_OK {AfterPrepareOk}, in an election {InElection}; holds {Holds}; at most {MostWithoutIntactState} without intact state at once; near misses: joins below a forgotten promise {JoinsBelowForgottenPromise}, rebuilds done below a slot executed before {RebuildsDoneBelowEarlierSlots}");
}

/// <summary>Interesting situations a batch of seeds must reach, or it tests too little (docs/testing.md, the simulator).</summary>
[Flags]
#pragma warning disable CA1711 // "Probes" is the name; it is not a flags-suffix misuse.
public enum CoverageProbes
#pragma warning restore CA1711
{
    /// <summary>None reached.</summary>
    None = 0,

    /// <summary>A view change while the old leader had Proposals in flight.</summary>
    ViewChangeWithProposalsInFlight = 1 << 0,

    /// <summary>A new leader re-proposed a slot a Prepare_OK reported.</summary>
    ConstrainedReproposal = 1 << 1,

    /// <summary>An ordered duplicate of an executed update was consumed without executing (G12), or a
    /// re-submitted update was answered from the client table (G13).</summary>
    DuplicateSuppressed = 1 << 2,

    /// <summary>A replica learned ordered slots from a peer.</summary>
    CatchUpFromPeer = 1 << 3,

    /// <summary>A message was dropped because it named another view.</summary>
    StaleViewDropped = 1 << 4,

    /// <summary>A Proposal the leader re-sent after a loss was then ordered.</summary>
    RetransmissionRecovered = 1 << 5,

    /// <summary>A partition healed while two replicas each believed they led.</summary>
    HealWithTwoLeaders = 1 << 6,

    /// <summary>A replica that lost its disk rebuilt from its peers and voted again.</summary>
    RebuildCompleted = 1 << 7,

    /// <summary>A replica restarted on a damaged disk, detected the damage and was rebuilt from its peers.</summary>
    DamagedDiskDetected = 1 << 8,

    /// <summary>A replica died with a batch's fsync in flight, after its replies left.</summary>
    CrashMidFsync = 1 << 9,

    /// <summary>An ordered update was refused, not executed, because its client had expired from the client table.</summary>
    ExpiredUpdateRefused = 1 << 10,

    /// <summary>A replica took a snapshot.</summary>
    SnapshotTaken = 1 << 11,

    /// <summary>A snapshot was made durable and acknowledged to its replica, which released the history it covers.</summary>
    SnapshotAcknowledged = 1 << 12,

    /// <summary>A replica too far behind installed a snapshot a peer sent it (state transfer).</summary>
    SnapshotInstalled = 1 << 13,

    /// <summary>A Prepare was rejected because the leader's aru was below what a replica had released.</summary>
    PrepareRejectedBelowFloor = 1 << 14,

    /// <summary>A replica restarted from a snapshot on its disk.</summary>
    RestartFromSnapshot = 1 << 15,

    /// <summary>Every probe.</summary>
    All = (1 << 16) - 1,
}

/// <summary>
/// Runs one seed: N real replicas, a seeded faulty network and seeded clients on virtual time, with
/// every safety property checked after every event, a safety phase with faults and a liveness phase
/// that must converge within a bound derived from the options.
/// </summary>
public sealed partial class Simulator : IClusterObserver
{
    private const int TraceRing = 64;

    private readonly SimulationConfig _config;
    private readonly SimulationRandom _random;

    /// <summary>The clients' read choices: a generator of their own, so that reads change no other random choice.</summary>
    private readonly SimulationRandom _readRandom;
    private readonly ClusterHarness _harness;
    private readonly PriorityQueue<Event, (long Time, long Order)> _events = new();
    private readonly SimClient[] _clients;

    /// <summary>The clients by every id they use: their own, their registration nonces, their sessions.</summary>
    private readonly Dictionary<ClientId, SimClient> _clientsById = [];

    /// <summary>The updates whose payload starts with <see cref="RecordingExecutor.RejectMarker"/>: the executor rejects
    /// exactly these, so exactly these may be answered <see cref="ReplyStatus.Rejected"/>.</summary>
    private readonly HashSet<(long Client, long Timestamp)> _marked = [];

    private SessionCounts _sessions;
    private readonly bool[,] _cut;
    /// <summary>Reads taken under a lease, summed over every replica instance (a restart makes a new one).</summary>
    private long _leaseReads;

    private readonly Dictionary<PaxosReplica, long> _leaseReadsSeen = new(ReferenceEqualityComparer.Instance);

    private readonly bool[] _paused;

    /// <summary>Ticks a paused replica missed (read-lease seeds only), given when it resumes.</summary>
    private readonly int[] _missedTicks;
    private readonly List<Event>[] _deferred;
    private readonly Event[] _ring = new Event[TraceRing];
    private readonly TextWriter? _log;
    private long _now;
    private long _order;
    private long _eventCount;
    private ulong _trace = 0xCBF29CE484222325UL;
    private bool _liveness;
    private bool _partitioned;
    private CoverageProbes _probes;
    private long _convergenceTarget = -1;
    private int _crashesBeforeSync;
    private readonly long[,] _heldUntil;
    private readonly long[,] _linkClearAt;
    private readonly HashSet<(int Replica, long View)> _promisesSeen = [];
    private readonly HashSet<(int Replica, long View)> _electionsSeen = [];
    private readonly HashSet<(int Replica, long View)> _preparesSeen = [];
    private readonly HashSet<(int Replica, long View)> _joinsBelow = [];
    private readonly long[] _promised;
    private readonly long[] _forgotten;
    private readonly long[] _slowUntil;
    private readonly long[] _lostDiskAt;
    private readonly int[] _staleWhileRebuilding;
    private readonly Dictionary<long, ulong> _promisers = [];
    private readonly long[] _executedBeforeWipe;
    private readonly bool[] _wasRebuilding;
    private LostDiskFaultCounts _lostDisk;
    private readonly PaxosMessage?[] _lastCheckedSend;
    private readonly bool[] _crashAtNextSync;
    private long _lastAimedCrashAt = long.MinValue / 4;
    private int _aimedCrashDown = -1;
    private int _crashesAfterAcknowledgement;
    private bool _restarting;
    private bool _clientsWrite = true;
    private bool _inStretch;
    private StabilityStretch _stability;

    /// <summary>Prepares a run of <paramref name="config"/>.</summary>
    /// <param name="config">The run's configuration.</param>
    /// <param name="log">Where to write every event (verbose replay), or null.</param>
    /// <param name="loggerFactory">Where replicas log, or null.</param>
    public Simulator(SimulationConfig config, TextWriter? log = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        _config = config;
        _log = log;
        _random = new SimulationRandom(config.Seed ^ 0x5EEDUL);
        _readRandom = new SimulationRandom(config.Seed ^ 0x4EAD5UL);
        _harness = new ClusterHarness(config.Options, config.ClusterSize, _ => new RecordingExecutor { RejectsMarkedUpdates = true }, config.Seed, loggerFactory)
        {
            LeaderSendsAcceptMask = config.LeaderSendsAcceptMask,
        };
        if (config.Faults.SyncDelayTicks > 0)
        {
            _harness.SyncDelayTicks = config.Faults.SyncDelayTicks;
            _harness.SyncRandom = new SimulationRandom(config.Seed ^ 0x5107D15CUL);
        }

        if (config.Faults.CrashBeforeSyncRate > 0 || config.Faults.CrashAfterAcknowledgementRate > 0)
        {
            _harness.CrashRandom = _random;
            _harness.LoseUnsyncedWritesOnCrash = config.Faults.LoseUnsyncedWrites || config.Faults.CrashAfterAcknowledgementRate > 0;
            _harness.CrashBeforeSync = OnCrashBeforeSync;
        }

        ConfigureSnapshotFaults();
        // The durability and ordering oracles: what each replica's disk holds, what a majority holds, and what every
        // message and every batch relies on.
        foreach (var replica in _harness.Replicas)
        {
            var id = replica.Id;
            replica.Storage.ProposalDurable = proposal => _harness.Checker.OnAcceptanceDurable(id, proposal);
        }

        _harness.BatchTaken = OnBatchTaken;
        _lastCheckedSend = new PaxosMessage?[config.ClusterSize];
        _crashAtNextSync = new bool[config.ClusterSize];
        _clients = new SimClient[config.ClientCount];
        for (var i = 0; i < _clients.Length; i++)
        {
            // Every second client works through sessions (register, then updates 1, 2, 3 …), so the checks of
            // exactly-once and of the client table cover them beside clients that choose their own ids.
            _clients[i] = new SimClient(i + 1, new ClientId(i + 1), usesSession: i % 2 == 1);
            _clientsById[_clients[i].Id] = _clients[i];
        }

        _cut = new bool[config.ClusterSize, config.ClusterSize];
        _linkClearAt = new long[config.ClusterSize, config.ClusterSize];
        _heldUntil = new long[config.ClusterSize, config.ClusterSize];
        _promised = new long[config.ClusterSize];
        _forgotten = new long[config.ClusterSize];
        _slowUntil = new long[config.ClusterSize];
        _lostDiskAt = new long[config.ClusterSize];
        _staleWhileRebuilding = new int[config.ClusterSize];
        _executedBeforeWipe = new long[config.ClusterSize];
        _wasRebuilding = new bool[config.ClusterSize];
        _paused = new bool[config.ClusterSize];
        _missedTicks = new int[config.ClusterSize];
        _deferred = new List<Event>[config.ClusterSize];
        for (var i = 0; i < config.ClusterSize; i++)
        {
            _deferred[i] = [];
        }
    }

    /// <summary>The command that replays a seed verbosely.</summary>
    public static string ReplayCommand(ulong seed) => ReplayCommand(seed, SimulationProfile.Default);

    /// <summary>The command that replays a seed of <paramref name="profile"/> verbosely.</summary>
    public static string ReplayCommand(ulong seed, SimulationProfile profile) => profile switch
    {
        SimulationProfile.LostDisk => string.Create(CultureInfo.InvariantCulture, $"dotnet run -c Release --project src/Paxos.Simulation.Runner -- --seed {seed} --profile lost-disk"),
        SimulationProfile.ReadLeases => string.Create(CultureInfo.InvariantCulture, $"dotnet run -c Release --project src/Paxos.Simulation.Runner -- --seed {seed} --profile read-leases"),
        _ => string.Create(CultureInfo.InvariantCulture, $"dotnet run -c Release --project src/Paxos.Simulation.Runner -- --seed {seed}"),
    };

    /// <summary>Runs one seed to the end and reports what happened; never throws for a protocol failure.</summary>
    public static SimulationResult Run(ulong seed, TextWriter? log = null, bool longRun = false) =>
        Run(seed, SimulationProfile.Default, log, longRun);

    /// <summary>Runs one seed of <paramref name="profile"/> to the end and reports what happened; never throws for a
    /// protocol failure.</summary>
    public static SimulationResult Run(ulong seed, SimulationProfile profile, TextWriter? log = null, bool longRun = false) =>
        new Simulator(SimulationConfig.FromSeed(seed, longRun, profile), log).Run();

    /// <summary>Runs the configured seed.</summary>
    public SimulationResult Run()
    {
        string? failure = null;
        try
        {
            _restarting = true;
            _harness.Start(this);
            _restarting = false;
            Schedule();
            RunSafetyPhase();
            StartLivenessPhase();
            RunLivenessPhase();
            RunStabilityStretch();
            CollectProbes();
        }
        catch (Exception exception) when (exception is not OutOfMemoryException) // Any other escape is a failure of the seed too.
        {
            failure = Report(exception);
        }

        return new SimulationResult
        {
            Seed = _config.Seed,
            Failure = failure,
            Events = _eventCount,
            TraceHash = _trace,
            VirtualMicros = _now,
            Acknowledged = _harness.Checker.AcknowledgedCount,
            ReadsChecked = _harness.Checker.ReadsChecked,
            ReadsUnderLease = _leaseReads,
            HighestSlot = _harness.Checker.HighestExecuted,
            Probes = _probes,
            Profile = _config.Profile,
            LostDisk = _lostDisk,
            Snapshots = _harness.SnapshotCounts,
            Stability = _stability,
            CrashesAfterAcknowledgement = _crashesAfterAcknowledgement,
            Sessions = _sessions,
        };
    }

    void IClusterObserver.OnSend(ReplicaId sender, ReplicaId destination, PaxosMessage message)
    {
        // The promise is made when the message leaves, whether or not the network then delivers it. A broadcast
        // arrives here once per destination; its promise is checked once.
        if (!ReferenceEquals(_lastCheckedSend[sender.Value], message))
        {
            _lastCheckedSend[sender.Value] = message;
            _harness.Checker.CheckSendDurable(sender, message, _harness.Replicas[sender.Value].Storage);
        }

        var faults = _config.Faults;
        if (_cut[sender.Value, destination.Value] || (!_liveness && _random.Chance(faults.LossRate)))
        {
            return;
        }

        if (!_liveness)
        {
            AimAtPromisesAndElections(sender, destination, message);
        }

        if (_stretchNetwork)
        {
            // The stability stretch's fault-free network: each link delivers in order, and the spread of delays is
            // below one delay (D to 2D), so no message overtakes a chain of two (an Accept never beats the Proposal
            // it answers, whoever sends it). RunStabilityStretch says why.
            var at = Math.Max(_now + _random.NextInt64(_stretchDelayMicros, 2 * _stretchDelayMicros), _linkClearAt[sender.Value, destination.Value]);
            _linkClearAt[sender.Value, destination.Value] = at;
            Push(at, new Event(EventKind.Deliver, sender, destination, message, _now));
            return;
        }

        // A held-back link delivers what it carries once the hold ends (the protocol's own retransmissions wait too).
        var from = Math.Max(_now, _heldUntil[sender.Value, destination.Value]);
        var copies = !_liveness && _random.Chance(faults.DuplicateRate) ? 2 : 1;
        for (var i = 0; i < copies; i++)
        {
            var delay = !_liveness && _random.Chance(faults.TailRate)
                ? _random.NextInt64(faults.MaxDelayMicros, Math.Max(faults.MaxDelayMicros + 1, faults.TailMaxMicros))
                : _random.NextInt64(faults.MinDelayMicros, faults.MaxDelayMicros + 1);
            Push(from + delay, new Event(EventKind.Deliver, sender, destination, message, _now)); // Argument: when sent.
        }
    }

    /// <summary>
    /// The lost-disk profile's aim, read from a message's kind and view only (never a rebuild's details). A leader that
    /// starts its Prepare phase may have its links held back, both ways, with every replica but one: it sits in its
    /// Prepare phase holding a partial set, while the others carry on without the view. A replica that promised a view
    /// at most a bare majority installed (its Prepare_OK is on its way, and every promise counts) may lose its disk, at
    /// once or once the view may have ordered with its help; a replica that runs a leader election may lose its disk
    /// within 2 ms. Each happens at most once per replica and view.
    /// </summary>
    private void AimAtPromisesAndElections(ReplicaId sender, ReplicaId destination, PaxosMessage message)
    {
        var faults = _config.Faults;
        if (message is PrepareOk promised)
        {
            _promised[sender.Value] = Math.Max(_promised[sender.Value], promised.View.Value);
            _promisers[promised.View.Value] = _promisers.GetValueOrDefault(promised.View.Value) | (1UL << sender.Value);
        }

        switch (message)
        {
            case Prepare prepare when faults.HoldPrepareRate > 0 && _preparesSeen.Add((sender.Value, prepare.View.Value)):
                if (_random.Chance(faults.HoldPrepareRate))
                {
                    var until = _now + _random.NextInt64(faults.HoldMaxMicros / 10, faults.HoldMaxMicros + 1);
                    HoldLeaderLinks(sender.Value, _random.Chance(0.5) ? destination.Value : _random.Next(0, _config.ClusterSize), until);
                }

                break;
            case PrepareOk promise when faults.WipeAfterPrepareOkRate > 0
                && InstalledBy(promise.View) <= Quorum
                && _promisesSeen.Add((sender.Value, promise.View.Value)):
                if (_random.Chance(faults.WipeAfterPrepareOkRate))
                {
                    // At once (the view is still being prepared), or once the view may have ordered with this promise.
                    var after = _random.Chance(0.5) ? _random.NextInt64(0, 2001) : _random.NextInt64(2000, faults.LateWipeMaxMicros + 1);
                    Push(_now + after, new Event(EventKind.AimedWipe, sender, destination, null, (long)AimedWipe.AfterPrepareOk) { Generation = promise.View.Value });
                }

                break;
            case ViewChange vote when faults.WipeInElectionRate > 0 && _electionsSeen.Add((sender.Value, vote.Attempted.Value)):
                if (_random.Chance(faults.WipeInElectionRate))
                {
                    Push(_now + _random.NextInt64(0, 2001), new Event(EventKind.AimedWipe, sender, ReplicaId.None, null, (long)AimedWipe.InElection));
                }

                break;
            default:
                break;
        }
    }

    /// <summary>Holds back every link, both ways, between <paramref name="leader"/> and the replicas other than
    /// <paramref name="passer"/> (none, when that is the leader itself), until <paramref name="until"/>: what they send
    /// waits, the protocol's retransmissions too.</summary>
    private void HoldLeaderLinks(int leader, int passer, long until)
    {
        for (var other = 0; other < _config.ClusterSize; other++)
        {
            if (other != leader && other != passer)
            {
                _heldUntil[leader, other] = Math.Max(_heldUntil[leader, other], until);
                _heldUntil[other, leader] = Math.Max(_heldUntil[other, leader], until);
            }
        }

        _lostDisk = _lostDisk with { Holds = _lostDisk.Holds + 1 };
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} hold the links of {leader} (but with {passer}) until {until}"));
    }

    /// <summary>When a promiser lost its disk, the leader it promised stops reaching it until it restarted and some
    /// more (or as long as the leader's other links are held): the rebuilding replica learns the views from the others.</summary>
    private void HoldLeaderFromPromiser(int leader, int promiser)
    {
        var until = _now + _config.Faults.TargetedRestartMaxMicros + _random.NextInt64(0, _config.Faults.HoldMaxMicros + 1);
        for (var other = 0; other < _config.ClusterSize; other++)
        {
            until = Math.Max(until, _heldUntil[leader, other]);
        }

        _heldUntil[leader, promiser] = Math.Max(_heldUntil[leader, promiser], until);
    }

    /// <summary>Ends the holds on <paramref name="leader"/>'s links within 30 ms, for half of the calls: its Prepare
    /// phase then goes on while the view below it runs again.</summary>
    private void ReleaseHoldsSoon(int leader)
    {
        if (!_random.Chance(0.5))
        {
            return;
        }

        var until = _now + _random.NextInt64(0, 30_001);
        for (var other = 0; other < _config.ClusterSize; other++)
        {
            _heldUntil[leader, other] = Math.Min(_heldUntil[leader, other], until);
            _heldUntil[other, leader] = Math.Min(_heldUntil[other, leader], until);
        }
    }

    /// <summary>Heals the partition for one replica only: it reaches everyone and everyone reaches it.</summary>
    private void OnReconnect(ReplicaId replica)
    {
        for (var other = 0; other < _config.ClusterSize; other++)
        {
            _cut[replica.Value, other] = false;
            _cut[other, replica.Value] = false;
        }
    }

    /// <summary>How many running replicas installed <paramref name="view"/> or a later one.</summary>
    private int InstalledBy(ViewNumber view)
    {
        var count = 0;
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is { } paxos && paxos.Status.LastInstalled >= view)
            {
                count++;
            }
        }

        return count;
    }

    private int Quorum => (_config.ClusterSize / 2) + 1;

    private int LeaderOf(ViewNumber view) => (int)(view.Value % _config.ClusterSize);

    void IClusterObserver.OnReply(ReplicaId replica, in ClientReply reply)
    {
        if (ClientSession.IsRegistrationNonce(reply.ClientId.Value))
        {
            OnRegistered(reply);
            return;
        }

        if (reply.Status == ReplyStatus.Expired)
        {
            OnExpired(replica, reply);
            return;
        }

        if (reply.Status == ReplyStatus.OutOfOrder)
        {
            // A client here submits its next update only once the last one was answered, so no gap can reach a slot.
            throw new SimulationFailureException($"session order: c{reply.ClientId.Value}#{reply.Timestamp} was refused as out of order at {reply.Sequence}, but its client never skips a timestamp");
        }

        if (reply.Status is not (ReplyStatus.Executed or ReplyStatus.Rejected))
        {
            return;
        }

        var rejects = _marked.Contains((reply.ClientId.Value, reply.Timestamp));
        if ((reply.Status == ReplyStatus.Rejected) != rejects)
        {
            throw new SimulationFailureException($"rejection: c{reply.ClientId.Value}#{reply.Timestamp} was answered {reply.Status} at {reply.Sequence}, but the executor {(rejects ? "rejects" : "accepts")} its payload");
        }

        _harness.Checker.OnAcknowledged(reply.ClientId, reply.Timestamp, reply.Sequence);
        var client = _clientsById[reply.ClientId];
        if (client.Waiting && client.Update!.ClientId == reply.ClientId && client.Update.Timestamp == reply.Timestamp)
        {
            _sessions = _sessions with
            {
                UpdatesAcknowledged = _sessions.UpdatesAcknowledged + (client.UsesSession ? 1 : 0),
                Rejected = _sessions.Rejected + (reply.Status == ReplyStatus.Rejected ? 1 : 0),
            };
            client.Waiting = false;
            if (_clientsWrite)
            {
                WakeClient(client, _random.Next(0, 5000));
            }
        }
    }

    /// <summary>A registration was answered with its session: the checker verifies it, and a client waiting for it
    /// starts the session at timestamp 0.</summary>
    private void OnRegistered(in ClientReply reply)
    {
        if (reply.Status != ReplyStatus.Executed)
        {
            throw new SimulationFailureException($"session registration: nonce {reply.ClientId.Value} was answered {reply.Status}, but a registration is never refused");
        }

        var session = ClientSession.SessionIdOf(reply.Result.Span);
        _harness.Checker.OnRegistered(reply.ClientId, session, reply.Sequence, _config.Options.ClientExpirySlots);
        var client = _clientsById[reply.ClientId];
        if (client.Waiting && client.Update!.ClientId == reply.ClientId)
        {
            client.Session = session;
            client.Timestamp = 0;
            _sessions = _sessions with { Registered = _sessions.Registered + 1 };
            _clientsById[session] = client;
            client.Waiting = false;
            WakeClient(client, _random.Next(0, 5000));
        }
    }

    /// <summary>The client's update was refused because the client table forgot the client: it starts a new session,
    /// its next update above the timestamp the replica that answered says a session may start at.</summary>
    private void OnExpired(ReplicaId replica, in ClientReply reply)
    {
        if (reply.Sequence != SequenceNumber.None)
        {
            _harness.Checker.OnRefused(reply.ClientId, reply.Timestamp, reply.Sequence);
        }

        var client = _clientsById[reply.ClientId];
        if (client.Waiting && client.Update!.ClientId == reply.ClientId && client.Update.Timestamp == reply.Timestamp)
        {
            if (client.UsesSession)
            {
                _sessions = _sessions with { Expired = _sessions.Expired + 1 };
                client.Session = null; // The session expired: register a new one (a new nonce) before the next update.
            }

            var start = _harness.Replicas[replica.Value].Replica?.Status.SessionStartTimestamp ?? 1;
            client.Timestamp = Math.Max(client.Timestamp, start - 1);
            client.Waiting = false;
            if (_clientsWrite)
            {
                WakeClient(client, _random.Next(0, 5000));
            }
        }
    }

    private void Schedule()
    {
        for (var i = 0; i < _config.ClusterSize; i++)
        {
            Push(_random.NextInt64(0, _config.TickPeriodMicros[i]), new Event(EventKind.Tick, new ReplicaId(i), ReplicaId.None, null, 0));
        }

        foreach (var client in _clients)
        {
            WakeClient(client, _random.Next(0, 10_000));
        }

        var faults = _config.Faults;
        ScheduleFault(EventKind.Partition, faults.PartitionEveryMicros);
        ScheduleFault(EventKind.Crash, faults.CrashEveryMicros);
        ScheduleFault(EventKind.Pause, faults.PauseEveryMicros);
        ScheduleFault(EventKind.Wipe, faults.WipeEveryMicros);
        ScheduleFault(EventKind.Damage, faults.DamageEveryMicros);
    }

    /// <summary>Schedules the client's next wake-up; an earlier one still queued is then ignored.</summary>
    private void WakeClient(SimClient client, long after) =>
        Push(_now + after, new Event(EventKind.ClientWake, ReplicaId.None, ReplicaId.None, null, client.Index) { Generation = ++client.Generation });

    private void ScheduleFault(EventKind kind, long every)
    {
        if (every > 0)
        {
            Push(_now + _random.NextInt64(every / 2, (every * 3 / 2) + 1), new Event(kind, ReplicaId.None, ReplicaId.None, null, 0));
        }
    }

    private void RunSafetyPhase()
    {
        while (_events.TryPeek(out _, out var at) && at.Time < _config.SafetyPhaseMicros)
        {
            Step(_events.Dequeue());
        }

        _now = _config.SafetyPhaseMicros;
    }

    private void StartLivenessPhase()
    {
        _liveness = true;
        _clientsWrite = false;
        _harness.SyncDelayTicks = 0; // The disk recovers with the rest: fsyncs in flight finish, new ones at once.
        Array.Clear(_cut);
        Array.Clear(_heldUntil);
        Array.Clear(_slowUntil);
        CheckHealWithTwoLeaders();
        _partitioned = false;
        for (var i = 0; i < _paused.Length; i++)
        {
            Resume(new ReplicaId(i));
        }

        var keepDown = _config.Liveness == LivenessMode.StableMajority ? _random.Next(0, ((_config.ClusterSize - 1) / 2) + 1) : 0;
        var up = new List<int>();
        for (var i = 0; i < _config.ClusterSize; i++)
        {
            up.Add(i);
        }

        var quorum = (_config.ClusterSize / 2) + 1;
        for (var i = 0; i < keepDown; i++)
        {
            var victim = up[_random.Next(0, up.Count)];

            // Progress needs a majority of replicas with intact state up (a rebuilding one does not vote).
            if (IsIntact(victim) && up.Count(IsIntact) - 1 < quorum)
            {
                continue;
            }

            up.Remove(victim);
            if (_harness.Replicas[victim].IsUp)
            {
                _harness.Crash(new ReplicaId(victim), _random, _config.Faults.LoseUnsyncedWrites);
            }
        }

        foreach (var replica in up)
        {
            if (!_harness.Replicas[replica].IsUp)
            {
                Restart(new ReplicaId(replica));
            }
        }
    }

    /// <summary>The liveness bound: after heal, every live replica must agree and every update submitted
    /// to a live replica must complete within this much virtual time.</summary>
    private long LivenessBoundMicros()
    {
        var o = _config.Options;
        long slowestTick = 0;
        foreach (var period in _config.TickPeriodMicros)
        {
            slowestTick = Math.Max(slowestTick, period);
        }

        var perView = o.MaxProgressTimeoutTicks + o.ViewChangeRetransmitTicks + o.VcProofIntervalTicks + o.PrepareRetransmitTicks + (4L * o.CatchUpTimeoutTicks);
        var ticks = ((_config.ClusterSize + 3L) * perView) + (20L * (o.UpdateRetransmitTicks + o.ProposalRetransmitTicks + o.AliveIntervalTicks));
        return (ticks * slowestTick) + (100L * _config.Faults.MaxDelayMicros) + 1_000_000;
    }

    private void RunLivenessPhase()
    {
        var deadline = _now + LivenessBoundMicros();
        while (_events.TryDequeue(out var next, out var at))
        {
            if (at.Time > deadline)
            {
                throw new SimulationFailureException($"liveness: no convergence within {(deadline - _config.SafetyPhaseMicros) / 1000} ms after heal\n{DescribeCluster()}");
            }

            Step(next);
            if (Converged())
            {
                foreach (var replica in _harness.Replicas)
                {
                    if (replica.Replica is { } paxos)
                    {
                        _harness.Checker.CheckAcknowledgedPresent(replica.Id, paxos.Status.LocalAru.Value);
                    }
                }

                return;
            }
        }
    }

    /// <summary>
    /// Every batch as its replica hands it over, before any of it is applied: the ordering oracle checks what it
    /// executed, and, when the seed aims crashes at acknowledgements, the batch may be the one its replica dies
    /// right after — with the batch's fsync in flight when it has one (the harness's crash before sync), else as soon
    /// as the batch is applied (its ordered slots are then still unsynced).
    /// </summary>
    private void OnBatchTaken(ReplicaId id, OutputBatch batch)
    {
        _harness.Checker.CheckOrderedChosen(id, batch);
        var faults = _config.Faults;
        if (faults.CrashAfterAcknowledgementRate <= 0 || _liveness || _restarting || _aimedCrashDown >= 0
            || _now - _lastAimedCrashAt < faults.CrashAfterAcknowledgementGapMicros || !Acknowledges(batch)
            || !_random.Chance(faults.CrashAfterAcknowledgementRate))
        {
            return;
        }

        _lastAimedCrashAt = _now;
        if (batch.RequiresSync)
        {
            _crashAtNextSync[id.Value] = true;
        }
        else
        {
            Push(_now, new Event(EventKind.AimedCrash, id, ReplicaId.None, null, 0));
        }
    }

    /// <summary>Whether a batch tells someone that something is done: a reply to a client, an executed slot, or an
    /// acceptance (an Accept, or a leader's Proposal that is its acceptance).</summary>
    private static bool Acknowledges(OutputBatch batch)
    {
        if (batch.Replies.Count > 0 || batch.OrderedSlots.Count > 0)
        {
            return true;
        }

        return HasAcceptance(batch.ImmediateMessages) || HasAcceptance(batch.Messages);

        static bool HasAcceptance(IReadOnlyList<OutboundMessage> messages)
        {
            foreach (var outbound in messages)
            {
                if (outbound.Message is Accept or Proposal { ImpliesLeaderAcceptance: true })
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>An aimed crash of a replica whose batch acknowledged something and had nothing to sync: it dies once
    /// the batch is applied, losing what is unsynced (its ordered slots, and a slow disk's batches in flight).</summary>
    private void OnAimedCrash(ReplicaId id)
    {
        if (_liveness || _harness.Replicas[id.Value].Replica is not { } paxos)
        {
            return;
        }

        CollectProbes(paxos);
        _harness.Crash(id, _random, loseUnsyncedWrites: true);
        NoteCrashAfterAcknowledgement(id, "right after it acknowledged");
    }

    /// <summary>Counts an aimed crash and schedules the replica's restart soon, while what it sent is in flight.</summary>
    private void NoteCrashAfterAcknowledgement(ReplicaId id, string how)
    {
        _crashAtNextSync[id.Value] = false;
        _crashesAfterAcknowledgement++;
        _aimedCrashDown = id.Value;
        _trace = (_trace ^ (0xAC0DEUL + (ulong)id.Value)) * 0x100000001B3UL;
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} crash {id} {how}, losing unsynced writes"));
        _ = ScheduleRestart(id, AimedRestartMaxMicros);
    }

    /// <summary>How soon a replica crashed right after an acknowledgement restarts, at most.</summary>
    private const long AimedRestartMaxMicros = 50_000;

    /// <summary>
    /// The stability stretch, after convergence: once a leader is established, the network is fault-free (no loss,
    /// duplication, partitions, pauses, crashes or restarts; links in order, delays bounded) for a stretch with client
    /// load and then an idle one (a progress timeout, then one and a quarter), and no replica of the view may start an
    /// election: every execution in the view, and an idle leader's no-op heartbeats (G6), must keep every
    /// Progress_Timer from expiring.
    /// </summary>
    /// <remarks>
    /// <para>The network. The seed's usual delays (MinDelay to MaxDelay, up to ten times apart) reorder messages across
    /// links: a peer's Accept can beat the leader's Proposal it answers, and is then dropped (TR Fig. 4 F3); the leader
    /// retransmits only to replicas that did not accept, so the replica learns the slot by catch-up, which is not
    /// progress (G23). With a bare majority up, every ordering can go that way, and the view changes without any fault
    /// (seeds 1000165 and 1000442 under the usual delays). That is reordering, a fault the safety phase exercises; a
    /// fault-free network here has in-order links and delays from D to 2D, with D = max(MinDelay, MaxDelay / 2), so that
    /// no message overtakes a chain of two and the longest delay stays about the seed's own.</para>
    /// <para>The start. The leader must lead a majority in its view, every running replica must be in it (or be left out
    /// after three base timeouts: a replica that may not rejoin), and none may be rebuilding; then each member must be
    /// in step, and order a slot in the view and execute it (<see cref="WarmUp"/>): its timer was then refreshed, and
    /// stability is owed from there.</para>
    /// <para>The envelope. A replica's Progress_Timer fires P of its own ticks after its last execution in the view; the
    /// leader proposes a heartbeat every H of its ticks once the previous one executed, so executions at a replica are
    /// at most H + 1 leader ticks plus a round trip apart, give or take the spread of one more ordering: 4 delays in
    /// all. Tick periods differ by up to 4× between replicas (clock skew), so the check runs only where
    /// (H + 2)·tick(leader) + 4·(2D) + 2·tick(replica) ≤ P·tick(replica) for every member; elsewhere stability is not
    /// owed by the timers, and the stretch is skipped.</para>
    /// </remarks>
    private void RunStabilityStretch()
    {
        _stability = StabilityStretch.NotSettled;
        var o = _config.Options;
        var faults = _config.Faults;
        var slowest = _config.TickPeriodMicros.Max();
        _stretchDelayMicros = Math.Max(1, Math.Max(faults.MinDelayMicros, faults.MaxDelayMicros / 2));
        var maxDelay = (2 * _stretchDelayMicros) - 1;
        _stretchNetwork = true;
        _inStretch = true; // No restarts from here on.

        if (!Settle(_now + (3L * o.ProgressTimeoutTicks * slowest), out var leader, out var view, out var members))
        {
            _inStretch = false;
            return;
        }

        var leaderTick = _config.TickPeriodMicros[leader];
        var memberSlowest = 0L;
        for (var i = 0; i < _config.ClusterSize; i++)
        {
            if ((members & (1UL << i)) == 0)
            {
                continue;
            }

            var tick = _config.TickPeriodMicros[i];
            memberSlowest = Math.Max(memberSlowest, tick);
            if (((o.LeaderHeartbeatTicks + 2L) * leaderTick) + (4 * maxDelay) + (2 * tick) > o.ProgressTimeoutTicks * tick)
            {
                _stability = StabilityStretch.OutsideEnvelope;
                _inStretch = false;
                return;
            }
        }

        if (!WarmUp(_now + (4L * o.ProgressTimeoutTicks * slowest) + (20 * maxDelay), leader, view, members))
        {
            _inStretch = false;
            return;
        }

        _stability = StabilityStretch.Checked;
        _stretchView = view;
        _stretchLeader = leader;
        _stretchMembers = members;
        _stretchStart = _now;
        _stretchElections = new long[_config.ClusterSize];
        foreach (var replica in _harness.Replicas)
        {
            _stretchElections[replica.Id.Value] = replica.Replica?.Counters.ViewChangesStarted ?? 0;
        }

        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} stability stretch: view {view} led by {leader}, members {string.Join(' ', Enumerable.Range(0, _config.ClusterSize).Where(i => (members & (1UL << i)) != 0))}, delays {_stretchDelayMicros}..{maxDelay} us"));
        var timeout = o.ProgressTimeoutTicks * memberSlowest;
        _checkStable = true;
        _stretchPhase = "loaded";
        RunUntil(_now + timeout);
        _clientsWrite = false;
        _stretchPhase = "idle";
        RunUntil(_now + (5 * timeout / 4) + (10 * maxDelay));
        _checkStable = false;
        _inStretch = false;
    }

    /// <summary>Runs until a leader is established (<see cref="Established"/>) with every running replica in its view,
    /// or, by <paramref name="end"/>, with a majority.</summary>
    private bool Settle(long end, out int leader, out ViewNumber view, out ulong members)
    {
        while (true)
        {
            var established = Established(out leader, out view, out members, out var everyone);
            if (established && everyone)
            {
                return true;
            }

            if (!_events.TryPeek(out _, out var at) || at.Time > end)
            {
                return established;
            }

            Step(_events.Dequeue());
        }
    }

    /// <summary>
    /// Brings every member of the established view in step and has it refresh its Progress_Timer: first, with the
    /// clients quiet, until every member executed everything the leader proposed (no hole left, nothing outside its
    /// receive window); then, with the clients writing, until every member ordered a slot by Accepts (in the view: the
    /// only way it orders by Accepts) and executed everything its leader had proposed by then, that slot included. False
    /// if the view loses a member first, or <paramref name="end"/> passes. Client load, not the leader's heartbeats,
    /// makes the orderings, so that a leader that never sends heartbeats is still checked.
    /// </summary>
    /// <remarks>A member in step stays in step on the stretch's network: it hears each Proposal before any Accept of it,
    /// and orders a slot within one delay of the leader, so it lags by at most one slot and never drops a Proposal as
    /// outside its window. A member that lags by more than its window under load can only chase the leader by catch-up,
    /// one round trip per request, which is not progress (G23): its timer expires with no fault in the stretch (seed
    /// 1000005, window 1, had it with the first warm-up, which did not wait for members to be in step).</remarks>
    private bool WarmUp(long end, int leader, ViewNumber view, ulong members)
    {
        var ordered = new long[_config.ClusterSize];
        var target = new long[_config.ClusterSize];
        var loaded = false;
        while (true)
        {
            if (_harness.Replicas[leader].Replica?.Status is not { State: ReplicaState.RegularLeader } lead || lead.LastInstalled != view)
            {
                return false;
            }

            var done = true;
            for (var i = 0; i < _config.ClusterSize; i++)
            {
                if ((members & (1UL << i)) == 0)
                {
                    continue;
                }

                if (_harness.Replicas[i].Replica is not { } paxos || paxos.Status.LastInstalled != view || paxos.Status.State == ReplicaState.LeaderElection)
                {
                    return false;
                }

                if (!loaded)
                {
                    done &= paxos.Status.LocalAru == lead.LastProposed;
                    continue;
                }

                if (target[i] < 0 && paxos.Counters.SlotsOrderedByAccepts > ordered[i])
                {
                    target[i] = lead.LastProposed.Value; // At least the slot it just ordered.
                }

                done &= target[i] >= 0 && paxos.Status.LocalAru.Value >= target[i];
            }

            if (done && loaded)
            {
                return true;
            }

            if (done)
            {
                loaded = true;
                foreach (var replica in _harness.Replicas)
                {
                    ordered[replica.Id.Value] = replica.Replica?.Counters.SlotsOrderedByAccepts ?? 0;
                    target[replica.Id.Value] = -1;
                }

                StartClientLoad();
                continue;
            }

            if (!_events.TryPeek(out _, out var at) || at.Time > end)
            {
                return false;
            }

            Step(_events.Dequeue());
        }
    }

    /// <summary>The clients write again, each soon after now unless it still waits for an answer.</summary>
    private void StartClientLoad()
    {
        _clientsWrite = true;
        foreach (var client in _clients)
        {
            if (!client.Waiting)
            {
                WakeClient(client, _random.Next(0, 5000));
            }
        }
    }

    private void RunUntil(long end)
    {
        while (_events.TryPeek(out _, out var at) && at.Time <= end)
        {
            Step(_events.Dequeue());
        }

        _now = Math.Max(_now, end);
    }

    /// <summary>Whether a leader is established: some running replica leads its installed view, a majority of running
    /// replicas (it included) are in a regular state of that view, and no running replica is rebuilding.</summary>
    private bool Established(out int leader, out ViewNumber view, out ulong members, out bool everyone)
    {
        leader = -1;
        view = ViewNumber.None;
        members = 0;
        everyone = false;
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica?.Status is { State: ReplicaState.RegularLeader } status && status.LastInstalled > view)
            {
                leader = replica.Id.Value;
                view = status.LastInstalled;
            }
        }

        if (leader < 0)
        {
            return false;
        }

        var up = 0;
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is not { } paxos)
            {
                continue;
            }

            up++;
            var status = paxos.Status;
            if (status.IsRebuilding)
            {
                return false;
            }

            if (status.State != ReplicaState.LeaderElection && status.LastInstalled == view)
            {
                members |= 1UL << replica.Id.Value;
            }
        }

        var count = System.Numerics.BitOperations.PopCount(members);
        everyone = count == up;
        return count >= Quorum;
    }

    /// <summary>During the stability stretch, after every event: no replica of the established view started an election
    /// or left the view.</summary>
    private void CheckStable()
    {
        for (var i = 0; i < _config.ClusterSize; i++)
        {
            if ((_stretchMembers & (1UL << i)) == 0 || _harness.Replicas[i].Replica is not { } paxos)
            {
                continue;
            }

            var status = paxos.Status;
            if (paxos.Counters.ViewChangesStarted != _stretchElections![i] || status.LastInstalled != _stretchView)
            {
                throw new SimulationFailureException(string.Create(CultureInfo.InvariantCulture, $"stability: replica {i} started an election for view {status.LastAttempted} {(_now - _stretchStart) / 1000.0:F1} ms into a fault-free {_stretchPhase} stretch; view {_stretchView} was led by {_stretchLeader} (progress timeout {_config.Options.ProgressTimeoutTicks} ticks, heartbeat {_config.Options.LeaderHeartbeatTicks})\n{DescribeCluster()}"));
            }
        }
    }

    private ViewNumber _stretchView;
    private int _stretchLeader;
    private ulong _stretchMembers;
    private long _stretchStart;
    private long[]? _stretchElections;
    private string _stretchPhase = string.Empty;
    private bool _stretchNetwork;
    private bool _checkStable;
    private long _stretchDelayMicros;

    /// <summary>
    /// Convergence: every client's update completed, and every live replica executed the same updates — at
    /// least through the highest slot any replica had executed when the last client finished, with the same
    /// executor state hash. (An idle leader keeps ordering no-op heartbeats, G6, so the last executed slot
    /// itself keeps moving; no-ops do not change the state, and slot agreement is checked on every slot.)
    /// </summary>
    private bool Converged()
    {
        foreach (var client in _clients)
        {
            if (client.Waiting)
            {
                return false;
            }
        }

        if (_convergenceTarget < 0)
        {
            _convergenceTarget = _harness.Checker.HighestExecuted;
            foreach (var slot in _harness.Checker.AcknowledgedSlots)
            {
                _convergenceTarget = Math.Max(_convergenceTarget, slot);
            }
        }

        ulong? hash = null;
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is not { } paxos)
            {
                continue;
            }

            var executor = (RecordingExecutor)replica.Executor!;
            if (paxos.Status.LocalAru.Value < _convergenceTarget || (hash is { } known && known != executor.StateHash))
            {
                return false;
            }

            hash = executor.StateHash;
        }

        return true;
    }

    private void Step(Event next)
    {
        _now = Math.Max(_now, next.Time);
        _eventCount++;
        _ring[_eventCount % TraceRing] = next with { Time = _now };
        _trace = (_trace ^ (ulong)_now) * 0x100000001B3UL;
        _trace = (_trace ^ (((ulong)next.Kind << 16) | ((ulong)(uint)(next.From.Value + 1) << 8) | (uint)(next.To.Value + 1))) * 0x100000001B3UL;
        if (_log is not null)
        {
            _log.WriteLine(Describe(next with { Time = _now }));
        }

        switch (next.Kind)
        {
            case EventKind.Tick:
                OnTick(next.From);
                break;
            case EventKind.Deliver:
                OnDeliver(next);
                break;
            case EventKind.ClientWake when next.Generation == _clients[next.Argument - 1].Generation:
                OnClientWake(_clients[next.Argument - 1]);
                break;
            case EventKind.Partition:
                OnPartition();
                break;
            case EventKind.Heal:
                OnHeal();
                break;
            case EventKind.Crash:
                OnCrash();
                break;
            case EventKind.Restart:
                OnRestart(next.From);
                break;
            case EventKind.Pause:
                OnPause();
                break;
            case EventKind.Wipe:
                OnWipe();
                break;
            case EventKind.Damage:
                OnDamage();
                break;
            case EventKind.Reconnect:
                OnReconnect(next.From);
                break;
            case EventKind.AimedWipe:
                OnAimedWipe(next.From, next.To, (AimedWipe)next.Argument, new ViewNumber(next.Generation));
                break;
            case EventKind.Resume:
                Resume(next.From);
                break;
            case EventKind.AimedCrash:
                OnAimedCrash(next.From);
                break;
            default:
                break;
        }

        if (_checkStable)
        {
            CheckStable();
        }

        if (_config.Profile == SimulationProfile.LostDisk)
        {
            NoteJoinsBelowForgottenPromises();
        }
    }

    /// <summary>
    /// Counts the lost-disk profile's near misses: a replica rebuilding after a lost disk joined a view below one it had
    /// promised before (the promise is gone with its disk, and its leader may still count it); or it finished its
    /// rebuild, and votes again, without having executed a slot some replica had executed before its disk was lost (it
    /// may have helped choose that slot and no longer knows it).
    /// </summary>
    private void NoteJoinsBelowForgottenPromises()
    {
        foreach (var replica in _harness.Replicas)
        {
            var id = replica.Id.Value;
            var rebuilding = replica.Replica?.Status.IsRebuilding == true;
            if (_wasRebuilding[id] && !rebuilding && replica.Replica is { } rebuilt && rebuilt.Status.LocalAru.Value < _executedBeforeWipe[id])
            {
                _lostDisk = _lostDisk with { RebuildsDoneBelowEarlierSlots = _lostDisk.RebuildsDoneBelowEarlierSlots + 1 };
                IsolateKnowersFrom(replica.Id, _executedBeforeWipe[id]);
                _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} {replica.Id} finished rebuilding at aru {rebuilt.Status.LocalAru}, below slot {_executedBeforeWipe[id]} executed before its disk was lost"));
            }

            if (replica.IsUp)
            {
                _wasRebuilding[id] = rebuilding;
            }

            if (_forgotten[id] > 0
                && replica.Replica?.Status is { IsRebuilding: true, State: ReplicaState.RegularNonLeader } status
                && status.LastInstalled.Value < _forgotten[id]
                && _joinsBelow.Add((id, status.LastInstalled.Value)))
            {
                _lostDisk = _lostDisk with { JoinsBelowForgottenPromise = _lostDisk.JoinsBelowForgottenPromise + 1 };
                ReleaseHoldsSoon(LeaderOf(new ViewNumber(_forgotten[id])));
                _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} {replica.Id} rebuilding joined view {status.LastInstalled}, below view {_forgotten[id]} it promised before its disk was lost; without intact state: {string.Join(' ', Enumerable.Range(0, _config.ClusterSize).Where(r => !IsIntact(r)))}; messages sent before the loss heard since: {_staleWhileRebuilding[id]}"));
            }
        }
    }

    private void OnTick(ReplicaId replica)
    {
        var period = _config.TickPeriodMicros[replica.Value];
        if (_now < _slowUntil[replica.Value])
        {
            period *= _config.Faults.MinoritySlowdown;
        }

        Push(_now + period, new Event(EventKind.Tick, replica, ReplicaId.None, null, 0));
        if (!_paused[replica.Value])
        {
            _harness.Tick(replica);
        }
        else if (_config.Options.ReadLeases)
        {
            _missedTicks[replica.Value]++; // A host that ticks by the clock owes them (Resume).
        }
    }

    private void OnDeliver(Event delivery)
    {
        if (_paused[delivery.To.Value])
        {
            _deferred[delivery.To.Value].Add(delivery);
            return;
        }

        if (_config.Profile == SimulationProfile.LostDisk
            && delivery.Argument < _lostDiskAt[delivery.To.Value]
            && _harness.Replicas[delivery.To.Value].Replica?.Status.IsRebuilding == true)
        {
            _staleWhileRebuilding[delivery.To.Value]++; // Sent before the disk was lost, heard while rebuilding.
        }

        _harness.Deliver(delivery.To, delivery.Message!);
    }

    private void OnClientWake(SimClient client)
    {
        if (!client.Waiting)
        {
            if (!_clientsWrite)
            {
                return;
            }

            if (client.UsesSession && client.Session is null)
            {
                // A fresh nonce for each registration; a retry of it (below) reuses it.
                var nonce = (ClientSession.MaxApplicationClientId + 1) | (_random.NextInt64(1, long.MaxValue) & ClientSession.MaxApplicationClientId);
                client.Update = ClientSession.RegistrationUpdate(nonce);
                _clientsById[client.Update.ClientId] = client;
                client.Waiting = true;
            }
            else
            {
                client.Timestamp++;
                var payload = new byte[_random.Next(0, _config.MaxPayloadBytes + 1)];
                for (var i = 0; i < payload.Length; i++)
                {
                    payload[i] = (byte)_random.Next(0, 256);
                }

                client.Update = new ClientUpdate(client.Session ?? client.Id, client.Timestamp, payload);
                client.Waiting = true;
                if (payload.Length > 0 && payload[0] == RecordingExecutor.RejectMarker)
                {
                    _marked.Add((client.Update.ClientId.Value, client.Timestamp));
                }
            }
        }

        // Half the time the client also reads at some replica, from its own generator so that the reads change no other
        // random choice: the read must reflect every update acknowledged so far (the checker's OnReadServed).
        if (_readRandom.Chance(0.5))
        {
            var reader = _readRandom.Next(0, _config.ClusterSize);
            if (!_paused[reader])
            {
                _harness.RequestRead(new ReplicaId(reader));
            }
        }

        // Submit (or re-submit, with the same client id and timestamp) to some replica, and try again later
        // if no answer comes: the origin may be down, partitioned, or overloaded.
        var target = new ReplicaId(_random.Next(0, _config.ClusterSize));
        if (!_paused[target.Value])
        {
            _harness.Submit(target, client.Update!);
        }

        var retry = (long)_config.Options.UpdateRetransmitTicks * _config.TickPeriodMicros[target.Value] * _random.Next(2, 6);
        WakeClient(client, retry);
    }

    private void OnPartition()
    {
        if (_liveness)
        {
            return;
        }

        var n = _config.ClusterSize;
        if (n > 1)
        {
            Array.Clear(_cut);
            CheckHealWithTwoLeaders();
            var oneWay = _random.Chance(0.3);
            // The lost-disk profile draws the leader with a minority for half of its partitions.
            var kind = _random.Next(0, _config.Profile == SimulationProfile.LostDisk ? 6 : 3);
            var side = new bool[n];
            if (kind >= 3)
            {
                // The leader with a minority: the minority keeps the old view while the majority elects a new one.
                side = LeaderWithMinority(ReplicaId.None);
            }
            else if (kind == 0)
            {
                side[_random.Next(0, n)] = true; // Isolate one.
            }
            else if (kind == 1)
            {
                side[LeaderGuess()] = true; // Isolate the leader.
            }
            else
            {
                for (var i = 0; i < n; i++)
                {
                    side[i] = _random.Chance(0.5); // Random halves.
                }
            }

            Cut(side, oneWay);

            // The leader with a minority lasts long enough for the majority to elect a new view and order in it; the
            // minority's clocks may run slow meanwhile, so that it still holds the old view when a replica of the
            // majority comes back from a lost disk.
            var heal = kind >= 3 ? _random.NextInt64(200_000, 2_000_001) : _random.NextInt64(20_000, 1_000_001);
            Push(_now + heal, new Event(EventKind.Heal, ReplicaId.None, ReplicaId.None, null, 0));
            for (var i = 0; i < n && kind >= 3; i++)
            {
                _slowUntil[i] = side[i] ? _now + heal : 0;
            }
        }

        ScheduleFault(EventKind.Partition, _config.Faults.PartitionEveryMicros);
    }

    /// <summary>The leader (as far as one is known) and ⌊(N−1)/2⌋ − 1 others, never <paramref name="exclude"/>.</summary>
    private bool[] LeaderWithMinority(ReplicaId exclude)
    {
        var n = _config.ClusterSize;
        var side = new bool[n];
        var leader = LeaderGuess();
        if (leader == exclude.Value)
        {
            return side;
        }

        side[leader] = true;
        for (var cut = 1; cut < (n - 1) / 2;)
        {
            var other = _random.Next(0, n);
            if (!side[other] && other != exclude.Value)
            {
                side[other] = true;
                cut++;
            }
        }

        return side;
    }

    /// <summary>Cuts every link between the two sides (one way: only from the <c>true</c> side).</summary>
    private void Cut(bool[] side, bool oneWay)
    {
        for (var a = 0; a < side.Length; a++)
        {
            for (var b = 0; b < side.Length; b++)
            {
                if (side[a] != side[b] && (!oneWay || side[a]))
                {
                    _cut[a, b] = true;
                }
            }
        }

        _partitioned = true;
    }

    /// <summary>
    /// The lost-disk profile's answer to a rebuild that finished below a slot executed before its disk was lost: for half
    /// of them, the replicas that executed that slot (and the leader, as far as one is known) are cut off when they are a
    /// minority, otherwise the leader with a minority is; either way the rebuilt replica, which votes again, is in the
    /// majority that prepares the next view, and its data list counts.
    /// </summary>
    private void IsolateKnowersFrom(ReplicaId rebuilt, long slot)
    {
        if (_partitioned || _config.ClusterSize < 3 || !_random.Chance(0.5))
        {
            return;
        }

        var side = new bool[_config.ClusterSize];
        var count = 0;
        foreach (var replica in _harness.Replicas)
        {
            var knows = replica.Replica is { } paxos
                && (paxos.Status.LocalAru.Value >= slot || paxos.Status.State == ReplicaState.RegularLeader);
            if (knows && replica.Id != rebuilt)
            {
                side[replica.Id.Value] = true;
                count++;
            }
        }

        if (count == 0 || count > (_config.ClusterSize - 1) / 2)
        {
            side = LeaderWithMinority(rebuilt);
        }

        if (!side.Contains(true))
        {
            return;
        }

        Cut(side, oneWay: false);
        Push(_now + _random.NextInt64(200_000, 2_000_001), new Event(EventKind.Heal, ReplicaId.None, ReplicaId.None, null, 0));
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} cut off {string.Join(' ', Enumerable.Range(0, side.Length).Where(i => side[i]))}, away from {rebuilt}"));
    }

    private void OnHeal()
    {
        if (!_partitioned)
        {
            return;
        }

        CheckHealWithTwoLeaders();
        Array.Clear(_cut);
        Array.Clear(_slowUntil);
        _partitioned = false;
    }

    private void CheckHealWithTwoLeaders()
    {
        if (!_partitioned)
        {
            return;
        }

        var leaders = 0;
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica?.Status.State == ReplicaState.RegularLeader)
            {
                leaders++;
            }
        }

        if (leaders >= 2)
        {
            _probes |= CoverageProbes.HealWithTwoLeaders;
        }
    }

    private int LeaderGuess()
    {
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica?.Status.State == ReplicaState.RegularLeader)
            {
                return replica.Id.Value;
            }
        }

        return _random.Next(0, _config.ClusterSize);
    }

    private void OnCrash()
    {
        if (_liveness)
        {
            return;
        }

        var victim = _random.Chance(0.3) ? LeaderGuess() : _random.Next(0, _config.ClusterSize);
        var replica = _harness.Replicas[victim];
        if (replica.Replica is { } paxos)
        {
            if (paxos.Status.State == ReplicaState.RegularLeader && paxos.Status.LastProposed > paxos.Status.LocalAru)
            {
                _probes |= CoverageProbes.ViewChangeWithProposalsInFlight;
            }

            CollectProbes(paxos);
            _harness.Crash(replica.Id, _random, _config.Faults.LoseUnsyncedWrites);
            ScheduleRestart(replica.Id);
        }

        ScheduleFault(EventKind.Crash, _config.Faults.CrashEveryMicros);
    }

    /// <summary>Decides whether replica <paramref name="id"/> dies with a batch's fsync in flight; if so, schedules
    /// its restart (the harness crashes it).</summary>
    private bool OnCrashBeforeSync(ReplicaId id)
    {
        if (_crashAtNextSync[id.Value])
        {
            // Aimed (OnBatchTaken): the batch just acknowledged something, and its fsync is in flight.
            _crashAtNextSync[id.Value] = false;
            NoteCrashAfterAcknowledgement(id, "with the batch's fsync in flight");
            return true;
        }

        if (_liveness || _config.Faults.CrashBeforeSyncRate <= 0 || !_random.Chance(_config.Faults.CrashBeforeSyncRate))
        {
            return false;
        }

        if (_harness.Replicas[id.Value].Replica is { } paxos)
        {
            CollectProbes(paxos);
        }

        _crashesBeforeSync++;
        _trace = (_trace ^ (0xC0DEUL + (ulong)id.Value)) * 0x100000001B3UL;
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} crash {id} with a batch's fsync in flight"));
        ScheduleRestart(id);
        return true;
    }

    /// <summary>After a crash: what was held for the replica is gone, and it restarts 10 ms to 1.5 s later.</summary>
    private void ScheduleRestart(ReplicaId id) => _ = ScheduleRestart(id, 1_500_000);

    /// <summary>After a crash: what was held for the replica is gone, and it restarts 1 ms (10 ms when
    /// <paramref name="maxMicros"/> allows) to <paramref name="maxMicros"/> later.</summary>
    /// <returns>When the restart happens.</returns>
    private long ScheduleRestart(ReplicaId id, long maxMicros)
    {
        _deferred[id.Value].Clear();
        _paused[id.Value] = false;
        _missedTicks[id.Value] = 0;
        var min = Math.Min(10_000, maxMicros / 2);
        var at = _now + _random.NextInt64(Math.Max(1_000, min), Math.Max(1_001, maxMicros + 1));
        Push(at, new Event(EventKind.Restart, id, ReplicaId.None, null, 0));
        return at;
    }

    /// <summary>Whether a replica holds intact state: not rebuilding, and not waiting to rebuild.</summary>
    private bool IsIntact(int replica)
    {
        var r = _harness.Replicas[replica];
        return !r.RebuildOnNextStart && !r.Storage.IsRebuilding && !r.Storage.IsDamaged;
    }

    /// <summary>A lost disk, on a replica whose loss keeps a majority with intact state.</summary>
    private void OnWipe()
    {
        if (_liveness)
        {
            return;
        }

        var victim = _random.Next(0, _config.ClusterSize);
        if (MayLoseDisk(victim))
        {
            LoseDisk(victim);
            ScheduleRestart(new ReplicaId(victim));
        }

        ScheduleFault(EventKind.Wipe, _config.Faults.WipeEveryMicros);
    }

    /// <summary>Whether replica <paramref name="victim"/> may lose its disk: at most ⌊(N−1)/2⌋ replicas are ever without
    /// intact state (wiped, or rebuilding) at once, so a majority always keeps what it promised and accepted. A replica
    /// already without intact state may lose its disk again.</summary>
    private bool MayLoseDisk(int victim)
    {
        var intact = Enumerable.Range(0, _config.ClusterSize).Count(IsIntact);
        return _config.ClusterSize > 1 && (!IsIntact(victim) || intact - 1 >= Quorum);
    }

    private void LoseDisk(int victim)
    {
        var replica = _harness.Replicas[victim];
        if (replica.Replica is { } paxos)
        {
            CollectProbes(paxos);
        }

        _harness.Wipe(replica.Id);
        _forgotten[victim] = Math.Max(_forgotten[victim], _promised[victim]);
        _executedBeforeWipe[victim] = _harness.Checker.HighestExecuted;
        _lostDiskAt[victim] = _now;
        _staleWhileRebuilding[victim] = 0;
        var without = _config.ClusterSize - Enumerable.Range(0, _config.ClusterSize).Count(IsIntact);
        _lostDisk = _lostDisk with { MostWithoutIntactState = Math.Max(_lostDisk.MostWithoutIntactState, without) };
    }

    /// <summary>A lost disk the lost-disk profile aimed at a promise (of <paramref name="view"/>, to
    /// <paramref name="promisedLeader"/>) or an election; the replica restarts soon, so that messages sent before the wipe
    /// still arrive after it. A lost promise may take a second promiser of the same view with it, when the bound allows.</summary>
    private void OnAimedWipe(ReplicaId victim, ReplicaId promisedLeader, AimedWipe aim, ViewNumber view)
    {
        if (_liveness || !MayLoseDisk(victim.Value))
        {
            return;
        }

        LoseAimedDisk(victim, promisedLeader, aim);
        if (aim == AimedWipe.AfterPrepareOk && _random.Chance(_config.Faults.SecondWipeRate))
        {
            var others = _promisers.GetValueOrDefault(view.Value) & ~(1UL << victim.Value) & ~(1UL << promisedLeader.Value);
            for (var other = 0; other < _config.ClusterSize; other++)
            {
                if ((others & (1UL << other)) != 0 && IsIntact(other) && MayLoseDisk(other))
                {
                    LoseAimedDisk(new ReplicaId(other), promisedLeader, aim);
                    break;
                }
            }
        }
    }

    private void LoseAimedDisk(ReplicaId victim, ReplicaId promisedLeader, AimedWipe aim)
    {
        if (!promisedLeader.IsNone)
        {
            HoldLeaderFromPromiser(promisedLeader.Value, victim.Value);
        }

        _lostDisk = aim == AimedWipe.AfterPrepareOk
            ? _lostDisk with { AfterPrepareOk = _lostDisk.AfterPrepareOk + 1 }
            : _lostDisk with { InElection = _lostDisk.InElection + 1 };
        _log?.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{_now,12} lose the disk of {victim} ({aim})"));
        LoseDisk(victim.Value);
        var restart = ScheduleRestart(victim, _config.Faults.TargetedRestartMaxMicros);
        if (_partitioned && _random.Chance(0.75))
        {
            // The partition heals as the replica comes back, everywhere or only for the replica (it comes back on
            // another network path): it rebuilds among everyone it can reach.
            Push(restart, _random.Chance(0.5)
                ? new Event(EventKind.Heal, ReplicaId.None, ReplicaId.None, null, 0)
                : new Event(EventKind.Reconnect, victim, ReplicaId.None, null, 0));
        }
    }

    /// <summary>A damaged disk, on a replica whose loss keeps a majority with intact state: the replica crashes and a
    /// durable record of its storage fails its checksum; its restart finds that out.</summary>
    private void OnDamage()
    {
        if (_liveness)
        {
            return;
        }

        var victim = _random.Next(0, _config.ClusterSize);
        var intact = Enumerable.Range(0, _config.ClusterSize).Count(IsIntact);
        var quorum = (_config.ClusterSize / 2) + 1;
        var replica = _harness.Replicas[victim];
        if (_config.ClusterSize > 1 && replica.IsUp && IsIntact(victim) && intact - 1 >= quorum)
        {
            if (replica.Replica is { } paxos)
            {
                CollectProbes(paxos);
            }

            // False when no durable record is vouched for yet: then it was an ordinary crash.
            _ = _harness.CrashWithDamagedDisk(replica.Id, _random, _config.Faults.LoseUnsyncedWrites);
            ScheduleRestart(replica.Id);
        }

        ScheduleFault(EventKind.Damage, _config.Faults.DamageEveryMicros);
    }

    private void OnRestart(ReplicaId replica)
    {
        if (replica.Value == _aimedCrashDown)
        {
            _aimedCrashDown = -1;
        }

        // The stability stretch is fault-free: whoever is down stays down (a restart is a new voter, and one that
        // lost its disk may make the leader give way).
        if (!_harness.Replicas[replica.Value].IsUp && !_inStretch)
        {
            Restart(replica);
        }
    }

    private void Restart(ReplicaId replica)
    {
        _restarting = true;
        try
        {
            _harness.Restart(replica);
        }
        finally
        {
            _restarting = false;
        }
    }

    private void OnPause()
    {
        if (_liveness)
        {
            return;
        }

        var victim = _random.Next(0, _config.ClusterSize);
        if (_harness.Replicas[victim].IsUp && !_paused[victim])
        {
            _paused[victim] = true;
            Push(_now + _random.NextInt64(10_000, 800_001), new Event(EventKind.Resume, new ReplicaId(victim), ReplicaId.None, null, 0));
        }

        ScheduleFault(EventKind.Pause, _config.Faults.PauseEveryMicros);
    }

    private void Resume(ReplicaId replica)
    {
        if (!_paused[replica.Value])
        {
            return;
        }

        _paused[replica.Value] = false;
        if (_missedTicks[replica.Value] > 0)
        {
            // Its clock ran on while it stood still: the ticks first, so its time is right when it next reads or serves.
            var missed = _missedTicks[replica.Value];
            _missedTicks[replica.Value] = 0;
            _harness.Tick(replica, missed);
        }

        var deferred = _deferred[replica.Value].ToArray();
        _deferred[replica.Value].Clear();
        foreach (var delivery in deferred)
        {
            _harness.Deliver(delivery.To, delivery.Message!);
        }
    }

    private void CollectProbes()
    {
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is { } paxos)
            {
                CollectProbes(paxos);
            }
        }
    }

    private void CollectProbes(PaxosReplica paxos)
    {
        var c = paxos.Counters;
        _leaseReadsSeen.TryGetValue(paxos, out var seen);
        _leaseReads += c.ReadsUnderLease - seen;
        _leaseReadsSeen[paxos] = c.ReadsUnderLease;
        if (c.ConstrainedSlotsReproposed > 0)
        {
            _probes |= CoverageProbes.ConstrainedReproposal;
        }

        if (c.DuplicatesSuppressed > 0 || c.RepliesFromClientTable > 0)
        {
            _probes |= CoverageProbes.DuplicateSuppressed;
        }

        if (c.SlotsLearnedOrdered > 0)
        {
            _probes |= CoverageProbes.CatchUpFromPeer;
        }

        if (c.Dropped(DropReason.StaleView) > 0)
        {
            _probes |= CoverageProbes.StaleViewDropped;
        }

        if (c.ProposalsOrderedAfterRetransmission > 0)
        {
            _probes |= CoverageProbes.RetransmissionRecovered;
        }

        if (c.RebuildsCompleted > 0)
        {
            _probes |= CoverageProbes.RebuildCompleted;
        }

        if (_harness.DamagedDisksDetected > 0)
        {
            _probes |= CoverageProbes.DamagedDiskDetected;
        }

        if (_crashesBeforeSync > 0)
        {
            _probes |= CoverageProbes.CrashMidFsync;
        }

        if (c.ExpiredUpdatesRefused > 0)
        {
            _probes |= CoverageProbes.ExpiredUpdateRefused;
        }

        _probes |= SnapshotProbes();
    }

    private void Push(long time, Event e) => _events.Enqueue(e with { Time = time }, (time, _order++));

    private string Report(Exception exception)
    {
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture, $"seed {_config.Seed} failed at {_now / 1000.0:F3} ms (event {_eventCount}): {exception.Message}\n");
        text.Append(_config).Append('\n');
        text.Append("last events:\n");
        var first = Math.Max(1, _eventCount - TraceRing + 1);
        for (var i = first; i <= _eventCount; i++)
        {
            text.Append("  ").Append(Describe(_ring[i % TraceRing])).Append('\n');
        }

        text.Append(DescribeCluster()).Append('\n');
        if (_config.Profile == SimulationProfile.LostDisk)
        {
            text.Append(_lostDisk).Append('\n');
        }

        text.Append("replay: ").Append(ReplayCommand(_config.Seed, _config.Profile));
        if (exception is not SimulationFailureException)
        {
            text.Append('\n').Append(exception);
        }

        return text.ToString();
    }

    private string DescribeCluster()
    {
        var text = new StringBuilder("cluster:");
        foreach (var replica in _harness.Replicas)
        {
            if (replica.Replica is not { } paxos)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  {replica.Id}: down");
                continue;
            }

            var s = paxos.Status;
            text.Append(CultureInfo.InvariantCulture, $"\n  {replica.Id}: {s.State} view {s.LastInstalled}/{s.LastAttempted} aru {s.LocalAru} proposed {s.LastProposed} queue {s.UpdateQueueLength} pending {s.PendingUpdates}{(_paused[replica.Id.Value] ? " paused" : string.Empty)}");
        }

        foreach (var client in _clients)
        {
            if (client.Waiting)
            {
                text.Append(CultureInfo.InvariantCulture, $"\n  client {client.Id} waits for {client.Update}");
            }
        }

        return text.ToString();
    }

    private static string Describe(Event e) => e.Kind switch
    {
        EventKind.Deliver => string.Create(CultureInfo.InvariantCulture, $"{e.Time,10} {e.From}->{e.To} {e.Message}"),
        EventKind.ClientWake => string.Create(CultureInfo.InvariantCulture, $"{e.Time,10} client {e.Argument} wakes"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{e.Time,10} {e.Kind} {(e.From.IsNone ? string.Empty : e.From.ToString())}"),
    };

    private enum EventKind
    {
        Tick,
        Deliver,
        ClientWake,
        Partition,
        Heal,
        Crash,
        Restart,
        Pause,
        Resume,
        Wipe,
        Damage,
        AimedWipe,
        Reconnect,
        AimedCrash,
    }

    private enum AimedWipe
    {
        AfterPrepareOk,
        InElection,
    }

    private readonly record struct Event(EventKind Kind, ReplicaId From, ReplicaId To, PaxosMessage? Message, long Argument)
    {
        public long Time { get; init; }

        public long Generation { get; init; }
    }

    private sealed class SimClient(int index, ClientId id, bool usesSession)
    {
        /// <summary>The client's place in the list, from 1: how its wake-up events name it.</summary>
        public int Index { get; } = index;

        public ClientId Id { get; } = id;

        /// <summary>Whether the client registers sessions and submits under them instead of its own id.</summary>
        public bool UsesSession { get; } = usesSession;

        /// <summary>The session it submits under, once registered; null before, and after the session expired.</summary>
        public ClientId? Session { get; set; }

        public long Timestamp { get; set; }

        public ClientUpdate? Update { get; set; }

        public bool Waiting { get; set; }

        public long Generation { get; set; }
    }
}
