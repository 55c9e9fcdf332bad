using Microsoft.Extensions.Logging;
using Paxos.Hosting;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;

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
    public PaxosReplica? Replica => Driver?.Replica;

    /// <summary>The driver that runs the replica against its storage and the simulated network — the same
    /// <see cref="ReplicaDriver"/> a <see cref="PaxosNode"/> runs — or null while crashed.</summary>
    public ReplicaDriver? Driver { get; internal set; }

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

    /// <summary>The slow disk's writer of the current incarnation: batches whose fsync is still in flight, oldest
    /// first, as <see cref="PaxosNode"/>'s storage writer keeps them in order; null while crashed.</summary>
    internal ClusterHarness.SimulatedWriter? Writer { get; set; }

    /// <summary>Ticks of the current incarnation.</summary>
    internal long Ticks { get; set; }

    /// <summary>The slow disk's snapshot writer of the current incarnation, or null (snapshots are written on the driver's
    /// thread).</summary>
    internal ClusterHarness.SimulatedSnapshotWriter? SnapshotWriter { get; set; }

    /// <summary>The snapshot the replica is about to restore (at its restart, or installed from a peer), for the checker.</summary>
    internal SnapshotState? RestoringFrom { get; set; }
}

/// <summary>Where a crash strikes a snapshot being made durable (<see cref="ClusterHarness.CrashDuringSnapshot"/>).</summary>
public enum SnapshotCrashPoint
{
    /// <summary>No crash.</summary>
    None,

    /// <summary>Before the snapshot is durable: the storage keeps what it kept before (a snapshot received from a peer is
    /// lost with its partial file).</summary>
    BeforeDurable,

    /// <summary>Once the snapshot is durable, before the replica hears of it: its own snapshot is not acknowledged (it
    /// releases nothing); a received one is not installed — the restart must load it.</summary>
    AfterDurable,
}

/// <summary>
/// Runs N real <see cref="PaxosReplica"/>s in one thread, each through the <see cref="ReplicaDriver"/> that
/// <see cref="PaxosNode"/> runs — so the batch contract simulated is the one that ships, with its pipelined writes
/// when the disk is slow (<see cref="SyncDelayTicks"/>) — while checking safety after every step. The network and the
/// clients are the caller's (<see cref="IClusterObserver"/>): a seeded faulty network for simulation, or a scripted
/// one for transcripts.
/// </summary>
public sealed partial class ClusterHarness
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
        SnapshotIntervalSlots = _template.SnapshotIntervalSlots,
        RetainedSlots = _template.RetainedSlots,
        ClientExpirySlots = _template.ClientExpirySlots,
        AllowSameViewRejoin = _template.AllowSameViewRejoin,
        MaxPendingReads = _template.MaxPendingReads,
        ReadTimeout = _template.ReadTimeout,
        ReadLeases = _template.ReadLeases,
        MaxClockDrift = _template.MaxClockDrift,
    };

    /// <summary>Crashes a replica: everything volatile is lost, and so may be its unsynced writes.</summary>
    public void Crash(ReplicaId id, SimulationRandom random, bool loseUnsyncedWrites)
    {
        var replica = _replicas[id.Value];
        ForgetReads(id);
        replica.Driver = null;
        replica.Executor = null;
        replica.Writer = null; // Its fsyncs never complete: their records are as volatile as any unsynced write.
        replica.SnapshotWriter = null; // Nor does a snapshot write: the snapshots kept before stay.
        replica.Storage.Crash(random, loseUnsyncedWrites);
    }

    /// <summary>Crashes a replica and loses its disk; it restarts (see <see cref="Restart"/>) rebuilding from peers.</summary>
    public void Wipe(ReplicaId id)
    {
        var replica = _replicas[id.Value];
        replica.Driver = null;
        replica.Executor = null;
        replica.Writer = null;
        replica.SnapshotWriter = null;
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
        return DamageSnapshot(storage, random) || storage.CorruptDurableRecord(random);
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

    /// <summary>Whether a non-leader on a slow disk sometimes fsyncs a batch on its own thread when nothing is in
    /// flight, as <see cref="PaxosNode"/> does when no input waits (drawn from <see cref="SyncRandom"/>, one chance in
    /// two), so that both of the driver's paths run. On by default.</summary>
    public bool SyncHereSometimes { get; set; } = true;

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
        replica.RestoringFrom = state.Snapshot?.State;

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
            recording.OnRestored = history =>
            {
                NoteRestored();
                Checker.OnRestored(id, replica.RestoringFrom ?? throw new SimulationFailureException($"replica {id} restored a snapshot that came neither from its disk nor from a peer"), history);
            };
        }

        var logger = _loggerFactory?.CreateLogger($"Paxos.Replica{id.Value}");
        var seed = _seed ^ ((ulong)replica.Incarnation << 40) ^ (ulong)id.Value;
        var options = OptionsFor(id);
        options.RebuildFromPeers = replica.RebuildOnNextStart;
        options.LeaderSendsAccept |= (LeaderSendsAcceptMask & (1UL << id.Value)) != 0;
        _constructing = true;
        PaxosReplica paxos;
        try
        {
            paxos = new PaxosReplica(options.ToProtocolOptions(), executor, state, logger, seed);
        }
        finally
        {
            _constructing = false;
        }

        replica.Writer = new SimulatedWriter(this, replica);
        var storage = new CrashingStorage(this, replica);
        replica.SnapshotWriter = DiskIsSlow(replica) ? new SimulatedSnapshotWriter(this, replica, storage) : null;
        replica.Driver = new ReplicaDriver(paxos, storage, new SimulatedTransport(this, replica.Id), _replicas.Length, replica.Writer, new DriverObserver(this, replica), replica.SnapshotWriter);
        replica.Executor = executor;
        replica.RecoveredAru = paxos.Status.LocalAru.Value;
        Checker.OnStatus(paxos.Status);
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

    /// <summary>One tick for a running replica: the fsyncs due by now complete (each batch's messages leave and it is
    /// acknowledged, oldest first, as <see cref="PaxosNode"/> does once its writer reports them durable), then the
    /// replica's clock turns.</summary>
    public void Tick(ReplicaId id) => Tick(id, 1);

    /// <summary><paramref name="ticks"/> ticks at once, as a host that ticks by its clock gives after a stall: the fsyncs
    /// due by then complete, and the replica's clock turns that far in one step (<see cref="PaxosReplica.Tick(int)"/>).</summary>
    public void Tick(ReplicaId id, int ticks)
    {
        var replica = _replicas[id.Value];
        if (replica.Driver is { } driver)
        {
            replica.Ticks += ticks;
            replica.Writer!.CompleteDue(replica.Ticks);
            Run(replica, () =>
            {
                replica.SnapshotWriter?.CompleteDue(replica.Ticks); // A crash may strike the snapshot's write.
                driver.AcknowledgeDurable();
            });
            if (replica.Driver is not null)
            {
                driver.Tick(ticks);
            }
        }

        Pump(replica);
    }

    /// <summary>Delivers a message to a running replica (dropped if it is down).</summary>
    public void Deliver(ReplicaId to, PaxosMessage message)
    {
        var replica = _replicas[to.Value];
        if (replica.Driver is not { } driver)
        {
            return;
        }

        Run(replica, () => driver.Step(message)); // A snapshot received whole is made durable and installed here.
        Pump(replica);
    }

    /// <summary>A local client submits an update to a replica; null if the replica is down.</summary>
    public SubmitStatus? Submit(ReplicaId to, ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        var replica = _replicas[to.Value];
        if (replica.Driver is not { } driver)
        {
            return null;
        }

        Checker.OnSubmitted(update);
        var status = driver.Submit(update);
        Pump(replica);
        return status;
    }

    /// <summary>Has the driver apply a replica's output batches until it has none (or its slow disk is at the writer's
    /// cap): immediate messages and replies, then persist — at once, or through the slow disk — then the batch's
    /// messages and its acknowledgement.</summary>
    private void Pump(SimulatedReplica replica)
    {
        if (replica.Driver is not { } driver)
        {
            return;
        }

        Run(replica, driver.ProcessOutput);
        if (replica.Driver is not null)
        {
            Checker.OnStatus(driver.Replica.Status);
        }
    }

    /// <summary>Runs a driver step; a crash while a batch's fsync was in flight (<see cref="CrashBeforeSync"/>) ends it,
    /// and the replica with it.</summary>
    private void Run(SimulatedReplica replica, Action step)
    {
        try
        {
            step();
        }
        catch (SimulatedCrashException)
        {
            Crash(replica.Id, CrashRandom!, LoseUnsyncedWritesOnCrash);
        }
    }

    /// <summary>Whether a crash takes the replica down while this batch's fsync is in flight: its writes may or may not
    /// have reached the disk (the crash's random decides, as for any unsynced write), and none of its messages left.</summary>
    private void CrashIfDue(SimulatedReplica replica, OutputBatch batch)
    {
        if (!_restarting && batch.RequiresSync && CrashBeforeSync?.Invoke(replica.Id) == true)
        {
            replica.Storage.WriteWithoutSync(batch);
            throw new SimulatedCrashException();
        }
    }

    /// <summary>The delay, in the replica's ticks, of a batch's fsync on the slow disk (0: none).</summary>
    private int SyncDelayFor(SimulatedReplica replica, OutputBatch batch)
    {
        if (_restarting)
        {
            return 0;
        }

        // A fixed delay applies to a batch with something to sync; one without only waits for those before it.
        var fixedDelay = FixedSyncDelayTicks?.Invoke(replica.Id) ?? 0;
        return fixedDelay > 0 ? (batch.RequiresSync ? fixedDelay : 0)
            : SyncDelayTicks > 0 ? SyncRandom!.Next(0, SyncDelayTicks + 1) : 0;
    }

    /// <summary>Whether the slow disk is on for this replica now (a batch that needs an fsync then goes through the
    /// writer, unless the driver's thread may sync it itself).</summary>
    private bool DiskIsSlow(SimulatedReplica replica) =>
        !_restarting && (SyncDelayTicks > 0 || (FixedSyncDelayTicks?.Invoke(replica.Id) ?? 0) > 0);

    /// <summary>Tells the checker what an acknowledged batch made durable or ordered.</summary>
    private void OnAcknowledged(SimulatedReplica replica, OutputBatch batch)
    {
        if (batch.InstalledView is { } view)
        {
            Checker.OnViewDurable(replica.Id, view);
        }

        foreach (var slot in batch.OrderedSlots)
        {
            Checker.OnOrdered(replica.Id, slot, replica.RecoveredAru);
        }
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

    /// <summary>Raised by the simulated disk when a crash takes the replica down mid-fsync.</summary>
    private sealed class SimulatedCrashException : Exception
    {
        public SimulatedCrashException()
            : base("The simulated process crashed while an fsync was in flight.")
        {
        }
    }

    /// <summary>The replica's disk as the driver sees it when it persists a batch on its own thread: a crash may strike
    /// before the fsync completes, and while a snapshot — its own, or one received from a peer — is made durable.</summary>
    private sealed class CrashingStorage(ClusterHarness harness, SimulatedReplica replica) : ISnapshotStorage
    {
        public (SequenceNumber Sequence, long Length)? NewestSnapshot => replica.Storage.NewestSnapshot;

        public void WriteSnapshot(TakenSnapshot snapshot)
        {
            var crash = harness.SnapshotCrashDue(replica, received: false);
            if (crash != SnapshotCrashPoint.BeforeDurable)
            {
                replica.Storage.WriteSnapshot(snapshot);
            }

            if (crash != SnapshotCrashPoint.None)
            {
                throw new SimulatedCrashException();
            }

            harness.NoteSnapshotAcknowledged(); // The driver tells the replica now.
        }

        public int ReadSnapshot(SequenceNumber sequence, long offset, Span<byte> destination) =>
            replica.Storage.ReadSnapshot(sequence, offset, destination);

        public long ReceivedBytes(SequenceNumber sequence) => replica.Storage.ReceivedBytes(sequence);

        public void AppendReceived(SequenceNumber sequence, long offset, ReadOnlySpan<byte> data) =>
            replica.Storage.AppendReceived(sequence, offset, data);

        public StoredSnapshot CompleteReceived(SequenceNumber sequence, long length)
        {
            var crash = harness.SnapshotCrashDue(replica, received: true);
            if (crash == SnapshotCrashPoint.BeforeDurable)
            {
                throw new SimulatedCrashException();
            }

            var stored = replica.Storage.CompleteReceived(sequence, length);
            if (crash == SnapshotCrashPoint.AfterDurable)
            {
                throw new SimulatedCrashException(); // Durable, not installed: the restart loads it.
            }

            replica.RestoringFrom = stored.State;
            return stored;
        }

        public ValueTask<PersistentState> LoadAsync(CancellationToken cancellationToken = default) =>
            ValueTask.FromResult(replica.Storage.Load());

        public ValueTask PersistAsync(OutputBatch batch, CancellationToken cancellationToken = default)
        {
            harness.CrashIfDue(replica, batch);
            replica.Storage.Persist(batch);
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>The simulated network as the driver sees it: every message goes to the harness's observer.</summary>
    private sealed class SimulatedTransport(ClusterHarness harness, ReplicaId self) : ITransport
    {
        public ValueTask StartAsync(ITransportReceiver receiver, CancellationToken cancellationToken = default) => ValueTask.CompletedTask;

        public void Send(ReplicaId destination, PaxosMessage message)
        {
            harness.NoteSnapshotTraffic(self, destination, message);
            harness._observer!.OnSend(self, destination, message);
        }

        public void Flush()
        {
        }

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }

    /// <summary>What the harness does with a driver's news: replies to the clients, acknowledged batches to the checker,
    /// and whether a batch that needs an fsync may be synced on the driver's thread.</summary>
    private sealed class DriverObserver(ClusterHarness harness, SimulatedReplica replica) : IReplicaDriverObserver
    {
        public void OnBatchTaken(OutputBatch batch)
        {
            if (batch.Snapshot is not null)
            {
                harness.NoteSnapshotTaken();
            }

            harness.BatchTaken?.Invoke(replica.Id, batch);
        }

        public void OnReplies(OutputBatch batch)
        {
            foreach (var reply in batch.Replies)
            {
                harness._observer!.OnReply(replica.Id, reply);
            }
        }

        public void OnReads(OutputBatch batch) => harness.OnReads(replica, batch);

        public void OnAcknowledged(OutputBatch batch, bool syncedHere) => harness.OnAcknowledged(replica, batch);

        /// <summary>A fast disk syncs everything here; on a slow one, as the node decides for a non-leader with nothing
        /// waiting: sometimes.</summary>
        public bool MaySyncHere(OutputBatch batch) =>
            !harness.DiskIsSlow(replica)
            || (harness.SyncHereSometimes
                && replica.Replica!.Status.State != ReplicaState.RegularLeader
                && harness.SyncRandom is { } random
                && random.Next(0, 2) == 0);
    }

    /// <summary>A slow disk's writer: a batch is written at once and its fsync completes some ticks later, after every
    /// batch before it, as <see cref="PaxosNode"/>'s storage writer completes them in order.</summary>
    internal sealed class SimulatedWriter(ClusterHarness harness, SimulatedReplica replica) : IBatchWriter
    {
        private readonly Queue<(OutputBatch Batch, long DueTick, int RecordsEnd)> _syncing = new();
        private readonly List<OutputBatch> _durable = [];

        public int InFlight => _syncing.Count + _durable.Count;

        public bool HasDurable => _durable.Count > 0;

        public void Enqueue(OutputBatch batch)
        {
            harness.CrashIfDue(replica, batch);
            replica.Storage.WriteWithoutSync(batch);
            var due = replica.Ticks + harness.SyncDelayFor(replica, batch);
            if (_syncing.Count > 0)
            {
                due = Math.Max(due, _syncing.Last().DueTick);
            }

            _syncing.Enqueue((batch, due, replica.Storage.RecordCount));
        }

        /// <summary>Completes the fsyncs due by <paramref name="tick"/>, oldest first.</summary>
        public void CompleteDue(long tick)
        {
            while (_syncing.TryPeek(out var next) && next.DueTick <= tick)
            {
                _syncing.Dequeue();
                replica.Storage.CompleteSync(next.Batch, next.RecordsEnd);
                harness.BatchDurable?.Invoke(replica.Id, next.Batch);
                _durable.Add(next.Batch);
            }
        }

        public void TakeDurable(List<OutputBatch> into)
        {
            into.AddRange(_durable);
            _durable.Clear();
        }
    }
}
