using Microsoft.Extensions.Logging;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;

namespace Paxos.Simulation;

/// <summary>What a harness tells its network and its clients about.</summary>
public interface IClusterObserver
{
    /// <summary>Replica <paramref name="sender"/> sent <paramref name="message"/> to <paramref name="destination"/> (broadcasts
    /// arrive once per destination), after the batch it belongs to was persisted.</summary>
    void OnSend(ReplicaId sender, ReplicaId destination, PaxosMessage message);

    /// <summary>Replica <paramref name="replica"/> answered a local client.</summary>
    void OnReply(ReplicaId replica, in ClientReply reply);
}

/// <summary>One replica of a simulated cluster: its storage survives crashes; its replica and executor do not.</summary>
public sealed class SimulatedReplica
{
    internal SimulatedReplica(ReplicaId id) => Id = id;

    /// <summary>The replica's id.</summary>
    public ReplicaId Id { get; }

    /// <summary>The running replica, or null while crashed.</summary>
    public PaxosReplica? Replica { get; internal set; }

    /// <summary>The current incarnation's executor, or null while crashed.</summary>
    public IExecutor? Executor { get; internal set; }

    /// <summary>The replica's disk.</summary>
    public SimulatedStorage Storage { get; } = new();

    /// <summary>Whether the replica is running.</summary>
    public bool IsUp => Replica is not null;

    /// <summary>How many times the replica was started.</summary>
    public int Incarnation { get; internal set; }

    /// <summary>The Local_Aru the current incarnation recovered from storage.</summary>
    public long RecoveredAru { get; internal set; }

    /// <summary>Whether the next start follows a lost disk, so the replica starts with
    /// <see cref="PaxosOptions.RebuildFromPeers"/> (an operator's decision, made once).</summary>
    public bool RebuildOnNextStart { get; internal set; }

    /// <summary>Batches written whose fsync is still in flight (a slow disk, <see cref="ClusterHarness.SyncDelayTicks"/>),
    /// oldest first, each with the replica tick at which it completes; every batch after the first waits in it, as
    /// <see cref="PaxosNode"/>'s storage writer keeps them in order.</summary>
    internal Queue<(OutputBatch Batch, long DueTick, int RecordsEnd)> Syncing { get; } = new();

    /// <summary>Ticks of the current incarnation.</summary>
    internal long Ticks { get; set; }
}

/// <summary>
/// Runs N real <see cref="PaxosReplica"/>s in one thread and applies their output batches exactly as
/// <see cref="PaxosNode"/> does — persist, acknowledge, send, answer — while checking safety after every
/// step. The network and the clients are the caller's (<see cref="IClusterObserver"/>): a seeded faulty
/// network for simulation, or a scripted one for transcripts.
/// </summary>
public sealed class ClusterHarness
{
    private readonly PaxosOptions _template;
    private readonly Func<ReplicaId, IExecutor> _executorFactory;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly ulong _seed;
    private readonly SimulatedReplica[] _replicas;
    private IClusterObserver? _observer;

    /// <summary>Creates a cluster; every replica starts up.</summary>
    /// <param name="template">Options for every replica; <see cref="PaxosOptions.ReplicaId"/> and
    /// <see cref="PaxosOptions.ClusterSize"/> are set per replica.</param>
    /// <param name="clusterSize">N.</param>
    /// <param name="executorFactory">Makes a fresh executor in its initial state, for each (re)start.</param>
    /// <param name="seed">Seeds the replicas' random choices.</param>
    /// <param name="loggerFactory">Where the replicas log, if anywhere.</param>
    public ClusterHarness(PaxosOptions template, int clusterSize, Func<ReplicaId, IExecutor> executorFactory, ulong seed, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(executorFactory);
        _template = template;
        _executorFactory = executorFactory;
        _seed = seed;
        _loggerFactory = loggerFactory;
        _replicas = new SimulatedReplica[clusterSize];
        Checker = new SafetyChecker(clusterSize);
        for (var i = 0; i < clusterSize; i++)
        {
            _replicas[i] = new SimulatedReplica(new ReplicaId(i));
        }
    }

    /// <summary>The replicas, by id.</summary>
    public IReadOnlyList<SimulatedReplica> Replicas => _replicas;

    /// <summary>The safety checker fed by every step.</summary>
    public SafetyChecker Checker { get; }

    /// <summary>N.</summary>
    public int ClusterSize => _replicas.Length;

    /// <summary>Which replicas run with <see cref="PaxosOptions.LeaderSendsAccept"/> on, one bit each, over the
    /// template's setting (replicas may differ: each Proposal says how it was sent).</summary>
    public ulong LeaderSendsAcceptMask { get; set; }

    /// <summary>Called after a replica's <see cref="RecordingExecutor"/> executed an update (recovery replays included).</summary>
    public Action<ReplicaId, OrderedUpdate>? Executed { get; set; }

    /// <summary>Called with each non-empty batch a replica produces (restarts included), as it is taken and before
    /// any of it is applied. The replica reuses the batch once it is applied: read it now, do not keep it.</summary>
    public Action<ReplicaId, OutputBatch>? BatchTaken { get; set; }

    /// <summary>Called when a batch that waited for a slow disk (<see cref="SyncDelayTicks"/>,
    /// <see cref="FixedSyncDelayTicks"/>) becomes durable, just before its messages leave and it is acknowledged. A
    /// batch persisted at once is durable as soon as it is taken and is not reported again.</summary>
    public Action<ReplicaId, OutputBatch>? BatchDurable { get; set; }

    /// <summary>Starts every replica and connects the observer.</summary>
    public void Start(IClusterObserver observer)
    {
        _observer = observer ?? throw new ArgumentNullException(nameof(observer));
        foreach (var replica in _replicas)
        {
            Restart(replica.Id);
        }
    }

    /// <summary>The options replica <paramref name="id"/> runs with.</summary>
    public PaxosOptions OptionsFor(ReplicaId id) => new()
    {
        ReplicaId = id.Value,
        ClusterSize = _replicas.Length,
        TickInterval = _template.TickInterval,
        ProgressTimeoutTicks = _template.ProgressTimeoutTicks,
        MaxProgressTimeoutTicks = _template.MaxProgressTimeoutTicks,
        LeaderHeartbeatTicks = _template.LeaderHeartbeatTicks,
        LeaderSendsAccept = _template.LeaderSendsAccept,
        ViewChangeRetransmitTicks = _template.ViewChangeRetransmitTicks,
        VcProofIntervalTicks = _template.VcProofIntervalTicks,
        PrepareRetransmitTicks = _template.PrepareRetransmitTicks,
        ProposalRetransmitTicks = _template.ProposalRetransmitTicks,
        UpdateRetransmitTicks = _template.UpdateRetransmitTicks,
        AliveIntervalTicks = _template.AliveIntervalTicks,
        CatchUpDelayTicks = _template.CatchUpDelayTicks,
        CatchUpTimeoutTicks = _template.CatchUpTimeoutTicks,
        WindowSlots = _template.WindowSlots,
        MaxBatchUpdates = _template.MaxBatchUpdates,
        MaxMessageBytes = _template.MaxMessageBytes,
        MaxUpdateBytes = _template.MaxUpdateBytes,
        MaxUpdateQueueLength = _template.MaxUpdateQueueLength,
        MaxPendingUpdates = _template.MaxPendingUpdates,
        MaxInboxMessages = _template.MaxInboxMessages,
        CatchUpSlotsPerRequest = _template.CatchUpSlotsPerRequest,
        AllowSameViewRejoin = _template.AllowSameViewRejoin,
    };

    /// <summary>Crashes a replica: everything volatile is lost, and so may be its unsynced writes.</summary>
    public void Crash(ReplicaId id, SimulationRandom random, bool loseUnsyncedWrites)
    {
        var replica = _replicas[id.Value];
        replica.Replica = null;
        replica.Executor = null;
        replica.Syncing.Clear(); // Their fsyncs never complete: their records are as volatile as any unsynced write.
        replica.Storage.Crash(random, loseUnsyncedWrites);
    }

    /// <summary>Crashes a replica and loses its disk; it restarts (see <see cref="Restart"/>) rebuilding from peers.</summary>
    public void Wipe(ReplicaId id)
    {
        var replica = _replicas[id.Value];
        replica.Replica = null;
        replica.Executor = null;
        replica.Syncing.Clear();
        replica.Storage.Wipe();
        replica.RebuildOnNextStart = true;
        Checker.OnWiped(id);
    }

    /// <summary>Crashes a replica and damages a durable record of its storage, which its restart then detects; false
    /// (and nothing happens) when no record can be damaged yet.</summary>
    public bool CrashWithDamagedDisk(ReplicaId id, SimulationRandom random, bool loseUnsyncedWrites)
    {
        ArgumentNullException.ThrowIfNull(random);
        var replica = _replicas[id.Value];
        var storage = replica.Storage;
        Crash(id, random, loseUnsyncedWrites);
        return storage.CorruptDurableRecord(random);
    }

    /// <summary>
    /// Consulted before each batch that must be synced (never during a restart): true crashes the replica with
    /// that batch's fsync in flight, after its immediate messages and replies left and before anything else did.
    /// The crash uses <see cref="CrashRandom"/> and <see cref="LoseUnsyncedWritesOnCrash"/>. Null: never.
    /// </summary>
    public Func<ReplicaId, bool>? CrashBeforeSync { get; set; }

    /// <summary>The random source of crashes <see cref="CrashBeforeSync"/> causes.</summary>
    public SimulationRandom? CrashRandom { get; set; }

    /// <summary>Whether crashes <see cref="CrashBeforeSync"/> causes may lose unsynced writes.</summary>
    public bool LoseUnsyncedWritesOnCrash { get; set; }

    /// <summary>A slow disk: when above 0, a batch that must be synced is written at once and its fsync completes
    /// after 0 to this many ticks of its replica (drawn from <see cref="SyncRandom"/>), while the replica goes on
    /// stepping and producing batches behind it — the pipeline <see cref="PaxosNode"/> runs. Its acknowledgement and
    /// messages wait until then, in order. 0 (the default): every fsync completes at once.</summary>
    public int SyncDelayTicks { get; set; }

    /// <summary>The random source of <see cref="SyncDelayTicks"/>.</summary>
    public SimulationRandom? SyncRandom { get; set; }

    /// <summary>A slow disk with a fixed delay, per replica: when set and above 0 for a replica, each of its batches that
    /// must be synced completes exactly that many of its ticks after it was written (and after every batch before it),
    /// instead of a delay drawn for <see cref="SyncDelayTicks"/>. For scripted scenarios that need one write to stay
    /// volatile for a known time. Null (the default): no fixed delays.</summary>
    public Func<ReplicaId, int>? FixedSyncDelayTicks { get; set; }

    /// <summary>The most batches one replica keeps in flight to a slow disk; beyond it, it takes no more output until
    /// the disk catches up (as <see cref="PaxosNode"/> stops at its storage writer's cap).</summary>
    private const int MaxBatchesSyncing = 64;

    /// <summary>Restarts that found their storage damaged, and so rebuilt the replica from its peers.</summary>
    public int DamagedDisksDetected { get; private set; }

    private bool _restarting;

    /// <summary>Starts (or restarts) a replica from its storage, with a fresh executor that it replays into. A storage
    /// that reports damage is treated as an operator would treat a <see cref="StorageCorruptionException"/>: the data
    /// directory is wiped and the replica rejoins as one that lost its disk.</summary>
    public void Restart(ReplicaId id)
    {
        var replica = _replicas[id.Value];
        PersistentState state;
        try
        {
            state = replica.Storage.Load();
        }
        catch (StorageCorruptionException)
        {
            DamagedDisksDetected++;
            Wipe(id);
            state = replica.Storage.Load();
        }

        var executor = _executorFactory(id);
        replica.Incarnation++;
        replica.Ticks = 0;
        Checker.OnIncarnation(id);
        if (executor is RecordingExecutor recording)
        {
            recording.OnExecuted = update =>
            {
                Checker.OnExecuted(id, update);
                Executed?.Invoke(id, update);
            };
        }

        var logger = _loggerFactory?.CreateLogger($"Paxos.Replica{id.Value}");
        var seed = _seed ^ ((ulong)replica.Incarnation << 40) ^ (ulong)id.Value;
        var options = OptionsFor(id);
        options.RebuildFromPeers = replica.RebuildOnNextStart;
        options.LeaderSendsAccept |= (LeaderSendsAcceptMask & (1UL << id.Value)) != 0;
        replica.Replica = new PaxosReplica(options.ToProtocolOptions(), executor, state, logger, seed);
        replica.Executor = executor;
        replica.RecoveredAru = replica.Replica.Status.LocalAru.Value;
        Checker.OnStatus(replica.Replica.Status);
        _restarting = true;
        try
        {
            Pump(replica);
        }
        finally
        {
            _restarting = false;
        }

        replica.RebuildOnNextStart = false; // The storage now records the rebuild itself.
    }

    /// <summary>One tick for a running replica.</summary>
    public void Tick(ReplicaId id)
    {
        var replica = _replicas[id.Value];
        if (replica.Replica is { } paxos)
        {
            replica.Ticks++;
            CompleteSyncs(replica);
            paxos.Tick();
        }

        Pump(replica);
    }

    /// <summary>Completes the fsyncs due by now, oldest first: each batch is acknowledged, its ordered slots
    /// checked, and its messages sent, as <see cref="PaxosNode"/> does once its writer reports them durable.</summary>
    private void CompleteSyncs(SimulatedReplica replica)
    {
        var paxos = replica.Replica!;
        while (replica.Syncing.TryPeek(out var next) && next.DueTick <= replica.Ticks)
        {
            replica.Syncing.Dequeue();
            replica.Storage.CompleteSync(next.Batch, next.RecordsEnd);
            BatchDurable?.Invoke(replica.Id, next.Batch);
            Acknowledge(replica, paxos, next.Batch);
        }
    }

    /// <summary>What follows a slow fsync: the batch's messages (before the acknowledgement, as the node sends
    /// them), then the acknowledgement and its checks.</summary>
    private void Acknowledge(SimulatedReplica replica, PaxosReplica paxos, OutputBatch batch)
    {
        SendAll(replica, batch.Messages);
        AcknowledgeDurable(replica, paxos, batch);
        paxos.ReleaseOutput(batch);
    }

    /// <summary>Tells the replica its batch is durable, and the checker what that made durable or ordered.</summary>
    private void AcknowledgeDurable(SimulatedReplica replica, PaxosReplica paxos, OutputBatch batch)
    {
        paxos.AcknowledgePersisted(batch.Number);
        if (batch.InstalledView is { } view)
        {
            Checker.OnViewDurable(replica.Id, view);
        }

        foreach (var slot in batch.OrderedSlots)
        {
            Checker.OnOrdered(replica.Id, slot, replica.RecoveredAru);
        }
    }

    /// <summary>Delivers a message to a running replica (dropped if it is down).</summary>
    public void Deliver(ReplicaId to, PaxosMessage message)
    {
        var replica = _replicas[to.Value];
        if (replica.Replica is null)
        {
            return;
        }

        replica.Replica.Step(message);
        Pump(replica);
    }

    /// <summary>A local client submits an update to a replica; null if the replica is down.</summary>
    public SubmitStatus? Submit(ReplicaId to, ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var replica = _replicas[to.Value];
        if (replica.Replica is null)
        {
            return null;
        }

        Checker.OnSubmitted(update);
        var status = replica.Replica.Submit(update);
        Pump(replica);
        return status;
    }

    /// <summary>Applies a replica's output batches until it has none: persist, acknowledge, send, answer.</summary>
    private void Pump(SimulatedReplica replica)
    {
        var paxos = replica.Replica;
        if (paxos is null)
        {
            return;
        }

        while (replica.Syncing.Count < MaxBatchesSyncing)
        {
            var batch = paxos.TakeOutput();
            if (batch.IsEmpty)
            {
                break;
            }

            BatchTaken?.Invoke(replica.Id, batch);

            // As PaxosNode does: immediate messages and replies before the batch is durable (OutputBatch says why
            // that is safe), everything else after.
            SendAll(replica, batch.ImmediateMessages);
            foreach (var reply in batch.Replies)
            {
                _observer!.OnReply(replica.Id, reply);
            }

            if (!_restarting && batch.RequiresSync && CrashBeforeSync?.Invoke(replica.Id) == true)
            {
                // The process dies while the batch's fsync is in flight: its writes may or may not have reached
                // the disk (the crash's random decides, as for any unsynced write), and none of its messages left.
                replica.Storage.WriteWithoutSync(batch);
                Crash(replica.Id, CrashRandom!, LoseUnsyncedWritesOnCrash);
                return;
            }

            var fixedDelay = FixedSyncDelayTicks?.Invoke(replica.Id) ?? 0;
            if (!_restarting && (replica.Syncing.Count > 0 || (batch.RequiresSync && (SyncDelayTicks > 0 || fixedDelay > 0))))
            {
                // A slow disk: written now, durable (and acknowledged, and its messages sent) some ticks later, after
                // every batch before it.
                replica.Storage.WriteWithoutSync(batch);
                // A fixed delay applies to a batch with something to sync; one without only waits for those before it.
                var delay = fixedDelay > 0 ? (batch.RequiresSync ? fixedDelay : 0)
                    : SyncDelayTicks > 0 ? SyncRandom!.Next(0, SyncDelayTicks + 1) : 0;
                var due = replica.Ticks + delay;
                if (replica.Syncing.Count > 0)
                {
                    due = Math.Max(due, replica.Syncing.Last().DueTick);
                }

                replica.Syncing.Enqueue((batch, due, replica.Storage.RecordCount));
                continue;
            }

            replica.Storage.Persist(batch);
            AcknowledgeDurable(replica, paxos, batch);
            SendAll(replica, batch.Messages);
            paxos.ReleaseOutput(batch);
        }

        Checker.OnStatus(paxos.Status);
    }

    private void SendAll(SimulatedReplica replica, IReadOnlyList<OutboundMessage> messages)
    {
        foreach (var outbound in messages)
        {
            if (!outbound.IsBroadcast)
            {
                _observer!.OnSend(replica.Id, outbound.Destination, outbound.Message);
                continue;
            }

            for (var peer = 0; peer < _replicas.Length; peer++)
            {
                if (peer != replica.Id.Value)
                {
                    _observer!.OnSend(replica.Id, new ReplicaId(peer), outbound.Message);
                }
            }
        }
    }
}
