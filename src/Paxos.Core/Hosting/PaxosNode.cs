using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Paxos.Diagnostics;
using Paxos.Hosting;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Storage;
using Paxos.Transport;

namespace Paxos;

/// <summary>
/// Runs one replica for an application: it owns the replica's inbox, its clock, its storage,
/// its transport and its executor, and applies every output batch under the durability contract: answered at once
/// (an executed update rests on a durable majority already), persisted (one fsync for the whole batch, or for
/// several: group commit), then sent.
/// </summary>
/// <remarks>
/// <para>All protocol work happens in the node's loop, on one thread at a time. <see cref="SubmitAsync"/> and the
/// transport only post into the loop's bounded inbox; a full inbox drops peer messages (counted, and
/// harmless: the protocol retransmits) and refuses submissions with <see cref="SubmitFailure.Overloaded"/>.</para>
/// <para>The loop has no thread of its own. When something is posted and no turn of the loop is running, one
/// starts: right on the posting thread when that is the transport's receive thread or the clock's callback, and
/// on the thread pool for a submission (so no caller's thread ever runs protocol work). A turn runs until the
/// inbox is empty, or hands the rest to the thread pool after a few iterations.
/// The reason is the cost of waking a thread: a received message is handled by the thread that received it,
/// instead of that thread waking another (through a channel and the thread pool) that then handles it. On a
/// small or virtualised machine those wake-ups cost more than the protocol itself.</para>
/// <para>With the file log (<see cref="PaxosOptions.DataDirectory"/> or a <see cref="FileReplicaStorage"/>), writes
/// run on a storage thread of the node's own while the loop goes on: batches the loop produces during one fsync are
/// written together and covered by the next (group commit across batches), and each batch's messages leave once it
/// and every batch before it are durable. A non-leader whose turn has nothing else waiting (no input queued, none
/// the transport holds) writes and fsyncs its batch on the turn's thread instead, which saves waking the storage
/// thread. Other stores are called on the loop, one batch at a time.</para>
/// <para>Answers go out the same way, in bulk: the tasks <see cref="SubmitAsync"/> returns are completed together,
/// one batch's worth at a time, by one thread-pool work item — so their continuations run there, one after the
/// other, and never on the loop — instead of each completion queueing a work item of its own. With
/// <see cref="PaxosOptions.UnsafePreferInlineCompletions"/> the thread that ran the turn completes them itself once
/// it has let go of the loop, which saves that work item's wake-up, and what their continuations submit enters the
/// loop together when the delivery ends, so that one Proposal carries it (<see cref="Deliver"/>).</para>
/// </remarks>
public sealed class PaxosNode : IAsyncDisposable
{
    private const int MaxTicksPerIteration = 16;

    /// <summary>Iterations one turn of the loop runs before it hands the rest to the thread pool, so that a
    /// transport's receive thread goes back to receiving.</summary>
    private const int MaxIterationsPerTurn = 16;

    /// <summary>How deeply answers delivered on the loop's thread may nest (a delivery wakes a turn, whose answers
    /// are delivered, ...) before the next ones go to the thread pool instead.</summary>
    private const int MaxInlineDeliveryDepth = 4;

    /// <summary>How many submissions of one (client id, timestamp) may wait for its answer at once. A client that
    /// re-submits while the update is pending is retrying, and a few retries in flight are plenty; more are refused
    /// with <see cref="SubmitFailure.Overloaded"/> so a retry loop cannot grow the table without bound.</summary>
    internal const int MaxWaitersPerUpdate = 16;

    /// <summary>The node whose turn of the loop this thread is running, if any.</summary>
    [ThreadStatic]
    private static PaxosNode? _turnOf;

    /// <summary>The node whose answers this thread is delivering (<see cref="Deliver"/>), if any.</summary>
    [ThreadStatic]
    private static PaxosNode? _deliveringFor;

    /// <summary>Whether a submission to <see cref="_deliveringFor"/> left waking the loop to the end of the delivery.</summary>
    [ThreadStatic]
    private static bool _wakeAfterDelivery;

    /// <summary>Deliveries running on this thread, one inside another.</summary>
    [ThreadStatic]
    private static int _inlineDeliveryDepth;

    /// <summary>The submissions to <see cref="_deliveringFor"/> made by the continuations of the delivery running on
    /// this thread (created with the first of them): they enter the inbox together when the delivery ends.</summary>
    [ThreadStatic]
    private static StagedSubmissions? _staging;

    private static readonly Action<PaxosNode> RunTurnOnPool = static node => node.RunTurn();

    private static readonly Action<(PaxosNode Node, List<Completion> Completions)> DeliverOnPool = static work => Deliver(work.Node, work.Completions);

    /// <summary>
    /// Completes one batch of answers. With <see cref="PaxosOptions.UnsafePreferInlineCompletions"/>, callers that
    /// submit their next update from the continuation (the common closed loop) find the loop woken once, here,
    /// after every answer is delivered: one turn then proposes all their updates together, on this thread, instead
    /// of the first submission waking a pool thread for a Proposal of its own while the rest are still being
    /// answered. Their submissions are also held back until then (<see cref="_staging"/>) and enter the inbox as
    /// one input: a turn that another thread runs meanwhile (the receive thread's, for a peer's message) would
    /// otherwise take the first few and propose them alone. On a 64-writer UDP load that split half of the leader's
    /// batches in two (see docs/performance.md).
    /// </summary>
    private static void Deliver(PaxosNode node, List<Completion> completions)
    {
        var previous = _deliveringFor;
        var previousWake = _wakeAfterDelivery;
        var previousStaging = _staging;

        // Only with UnsafePreferInlineCompletions: its callers promise continuations that never block, so a
        // submission may wait for the end of the delivery. Otherwise each submission wakes the loop at once, as a
        // continuation that blocks or runs long must not hold up the ones before it.
        _deliveringFor = node._options.UnsafePreferInlineCompletions ? node : null;
        _wakeAfterDelivery = false;
        _staging = null;
        _inlineDeliveryDepth++;
        try
        {
            foreach (var completion in completions)
            {
                if (completion.Source is TimedCompletion { Task.IsCompleted: false } timed) // Not if cancelled meanwhile.
                {
                    node._metrics?.SubmitAnswered(timed.StartedAt, completion.Error);
                }

                if (completion.Error is null)
                {
                    completion.Source.TrySetResult(completion.Result);
                }
                else
                {
                    completion.Source.TrySetException(completion.Error);
                }
            }

            _deliveringFor = previous;
            PostHeldBack(node); // Before the wake-up, so that the turn it starts finds them.
            if (_wakeAfterDelivery)
            {
                _wakeAfterDelivery = false;
                node.Wake(runHere: true);
            }
        }
        finally
        {
            PostHeldBack(node); // A continuation threw out of the delivery: its submissions still count.
            _deliveringFor = previous;
            _wakeAfterDelivery = previousWake;
            _staging = previousStaging;
            _inlineDeliveryDepth--;
        }

        static void PostHeldBack(PaxosNode node)
        {
            if (_staging is { } staged)
            {
                _staging = null;
                node.PostStaged(staged);
            }
        }
    }

    private readonly PaxosOptions _options;
    private readonly IExecutor _executor;
    private readonly ITransport _transport;
    private readonly IReplicaStorage _storage;
    private readonly bool _ownsStorage;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ulong _seed;
    private readonly Channel<Input> _inbox;

    /// <summary>The node's instruments; null without a meter factory, and then nothing is measured.</summary>
    private readonly PaxosMetrics? _metrics;

    /// <summary>Who waits for which update. Written by the loop, and by a cancelled submission removing itself;
    /// locked by <see cref="_waitersGate"/> (never while a task completes, so no caller's code runs under it).</summary>
    private readonly Dictionary<(ClientId Client, long Timestamp), Waiters> _waiters = [];
    private readonly Lock _waitersGate = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifecycle = new();

    private PaxosReplica? _replica;
    private ITimer? _timer;
    private bool _started;
    private Task? _stopped;
    private int _pendingTicks;

    /// <summary>Persists batches on a thread of its own when the storage is the file log (null otherwise: the loop
    /// persists inline, as most stores complete synchronously).</summary>
    private StorageWriter? _writer;

    /// <summary>Batches that needed an fsync and got it on the loop's thread (<see cref="MaySyncHere"/>).</summary>
    private long _batchesSyncedOnLoop;

    /// <summary>Batches the writer made durable, being acknowledged and sent by the loop.</summary>
    private readonly List<OutputBatch> _durable = [];

    /// <summary>Answers decided in the current iteration, handed to the thread pool together at its end.</summary>
    private List<Completion> _completions = [];

    /// <summary>Whether the turn that owns the loop keeps its answers to deliver on its own thread.</summary>
    private bool _collectCompletions;

    /// <summary>1 while a turn of the loop runs (or is queued to run), or while <see cref="GetCounters"/> copies the
    /// counters; it is the loop's lock. Once the node stops or faults it stays 1 for good, so no turn ever runs
    /// again.</summary>
    private int _turnOwned;

    /// <summary>Set once the stop has taken the loop for good: the replica is never written to again.</summary>
    private volatile bool _loopRetired;

    /// <summary>Readers of <see cref="GetCounters"/> that found the loop taken and asked it for a copy instead (a busy
    /// loop hands its turn straight to the next one, so they might never get it); incremented by each.</summary>
    private long _counterRequests;

    /// <summary>The requests the loop has answered; written by the loop only.</summary>
    private long _counterRequestsServed;

    /// <summary>The loop's latest answer to those requests: a copy, and the requests made before it was taken.</summary>
    private volatile ServedCounters? _servedCounters;

    private volatile StatusBox _status;
    private volatile NodeState _nodeState;
    private long _messagesDroppedInboxFull;

    /// <summary>Deliveries' held-back submissions (<see cref="_staging"/>) not yet posted, which a turn takes up
    /// itself once the clock has turned twice since they began (a continuation that blocks must not hold its own
    /// submission for good), and which a stop or a fault fails. Locked by <see cref="_stagingGate"/>; each entry by
    /// itself.</summary>
    private readonly List<StagedSubmissions> _openStagings = [];
    private readonly Lock _stagingGate = new();

    /// <summary>Held-back submissions not yet handed to the replica, staged or in the inbox: bounded by
    /// <see cref="PaxosOptions.MaxInboxMessages"/>, as the inbox bounds the others.</summary>
    private long _stagedSubmissions;

    /// <summary>Iterations of the loop that gave the replica clock ticks (one however many ticks it gave, so that
    /// ticks piled up by a late loop do not age held-back submissions at once); written by the loop only.</summary>
    private long _clockTurns;

    /// <summary>Set once the node stopped or faulted: nothing is held back any more. Written under
    /// <see cref="_stagingGate"/> before the open stagings are failed; read under the gate or a staging's lock.</summary>
    private bool _stagingClosed;

    /// <summary>Creates a node; nothing runs until <see cref="StartAsync"/>.</summary>
    /// <param name="options">The replica's options; validated here.</param>
    /// <param name="executor">The application state machine, in its initial state.</param>
    /// <param name="transport">Carries messages to and from peers; the node disposes it.</param>
    /// <param name="storage">Stable storage. When null, the node keeps a write-ahead log in
    /// <see cref="PaxosOptions.DataDirectory"/>, or, without a directory, keeps everything in memory (nothing
    /// survives the process). A storage given here is not disposed by the node.</param>
    /// <param name="loggerFactory">Where logs go; none when null.</param>
    /// <param name="timeProvider">The clock that drives ticks; the system clock when null.</param>
    /// <param name="seed">Seeds the replica's random choices; random when null. A fixed seed is for tests: a
    /// replica rebuilding a lost disk draws its query's nonce from it, so each start should have its own.</param>
    /// <param name="meterFactory">Where the node's meter (<c>Paxos.Core</c>) comes from; no metrics when null
    /// (<c>AddPaxos</c> passes the host's). The instruments are listed in docs/operations.md.</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range, or the
    /// transport says it was built for another replica or cluster (<see cref="ITransport.Identity"/>): another replica
    /// id, cluster size or cluster id, or a smaller message size. The message names both values.</exception>
    public PaxosNode(
        PaxosOptions options,
        IExecutor executor,
        ITransport transport,
        IReplicaStorage? storage = null,
        ILoggerFactory? loggerFactory = null,
        TimeProvider? timeProvider = null,
        ulong? seed = null,
        IMeterFactory? meterFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(executor);
        ArgumentNullException.ThrowIfNull(transport);
        PaxosOptionsValidator.ThrowIfInvalid(options);
        IdentityChecks.ThrowIfTransportDisagrees(options, transport);

        _options = options;
        _executor = executor;
        _transport = transport;
        _loggerFactory = loggerFactory ?? NullLoggerFactory.Instance;
        _storage = storage ?? DefaultStorage(options, _loggerFactory);
        _ownsStorage = storage is null;
        if (_storage is FileReplicaStorage file)
        {
            file.ExpectIdentity(ReplicaIdentity.From(options)); // Checked against the directory when it is loaded.
        }

        _logger = _loggerFactory.CreateLogger<PaxosNode>();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _seed = seed ?? (ulong)Random.Shared.NextInt64();
        _inbox = Channel.CreateBounded<Input>(new BoundedChannelOptions(options.MaxInboxMessages)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Id = new ReplicaId(options.ReplicaId);
        _status = new StatusBox(new ReplicaStatus { Id = Id, Leader = ReplicaId.None });
        _metrics = meterFactory is null ? null : new PaxosMetrics(this, (_storage as FileReplicaStorage)?.Counters, meterFactory);
    }

    private enum NodeState
    {
        Created,
        Running,
        Stopped,
        Faulted,
    }

    /// <summary>This node's replica id.</summary>
    public ReplicaId Id { get; }

    /// <summary>The replica's state as of the loop's last iteration.</summary>
    public ReplicaStatus Status => _status.Value;

    /// <summary>Peer messages dropped because the inbox was full.</summary>
    public long MessagesDroppedInboxFull => Interlocked.Read(ref _messagesDroppedInboxFull);

    /// <summary>Recovers the replica from storage and starts its loop, its clock and its transport.</summary>
    /// <param name="cancellationToken">Cancels the start.</param>
    /// <exception cref="InvalidOperationException">The node was started before, or was stopped while it started (it
    /// stays stopped).</exception>
    public async Task StartAsync(CancellationToken cancellationToken = default)
    {
        lock (_lifecycle)
        {
            if (_nodeState != NodeState.Created || _started)
            {
                throw new InvalidOperationException("A node starts once.");
            }

            _started = true;
        }

        var recovered = await _storage.LoadAsync(cancellationToken).ConfigureAwait(false);
        _replica = new PaxosReplica(_options.ToProtocolOptions(), _executor, recovered, _loggerFactory.CreateLogger<PaxosReplica>(), _seed);
        lock (_lifecycle)
        {
            ThrowIfStoppedWhileStarting();
            if (_storage is FileReplicaStorage file)
            {
                _writer = new StorageWriter(file, WakeFromWriter, $"Paxos storage r{Id.Value}", _metrics);
            }
        }

        PublishStatus();
        try
        {
            await _transport.StartAsync(new Receiver(this), cancellationToken).ConfigureAwait(false);
            lock (_lifecycle)
            {
                ThrowIfStoppedWhileStarting();
                _nodeState = NodeState.Running;
            }
        }
        catch
        {
            _writer?.Dispose();
            throw;
        }

        Wake(runHere: false); // Anything the transport received before the node was running.
        StartClock();
        NodeLog.Started(_logger, Id, _options.ClusterSize, recovered.LastInstalled);
    }

    /// <summary>Starts the tick timer, unless a stop began since the node was marked running: that stop found no timer
    /// to dispose, so one kept now would tick for ever and keep the stopped node alive.</summary>
    /// <exception cref="InvalidOperationException">The node was stopped while it started.</exception>
    private void StartClock()
    {
        // Created outside the lock: a time provider is the host's code, and may call back into the node.
        var timer = _timeProvider.CreateTimer(static state => ((PaxosNode)state!).OnTimer(), this, _options.TickInterval, _options.TickInterval);
        lock (_lifecycle)
        {
            if (_stopped is null)
            {
                _timer = timer; // A stop that begins from now on takes it under this lock (StopOnceAsync).
                return;
            }
        }

        timer.Dispose();
        throw new InvalidOperationException("The node was stopped while it started.");
    }

    private void ThrowIfStoppedWhileStarting()
    {
        if (_nodeState != NodeState.Created)
        {
            throw new InvalidOperationException("The node was stopped while it started.");
        }
    }

    /// <summary>
    /// Submits an update and completes with the executor's reply once it executed. Any replica takes
    /// updates: a non-leader forwards them to the leader and stays responsible for them until they execute.
    /// Re-submitting the same (client id, timestamp), here or elsewhere, never executes it twice and returns
    /// the same reply. At most 16 submissions of one update wait here at once (a cancelled one stops counting when
    /// it is cancelled); more are refused with <see cref="SubmitFailure.Overloaded"/>.
    /// </summary>
    /// <param name="update">The update.</param>
    /// <param name="cancellationToken">Stops waiting, and forgets this submission (the update may still execute).</param>
    /// <returns>The executor's reply.</returns>
    /// <exception cref="PaxosSubmitException">The update was refused or will not be answered; see
    /// <see cref="PaxosSubmitException.Reason"/>.</exception>
    public Task<ReadOnlyMemory<byte>> SubmitAsync(ClientUpdate update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.Payload.Length > _options.MaxUpdateBytes)
        {
            return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.UpdateTooLarge,
                $"The update's payload is {update.Payload.Length} bytes; {nameof(PaxosOptions.MaxUpdateBytes)} is {_options.MaxUpdateBytes}."));
        }

        switch (_nodeState)
        {
            case NodeState.Faulted:
                return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.Faulted, "The node stopped after a failure."));
            case NodeState.Created:
            case NodeState.Stopped:
                return Task.FromException<ReadOnlyMemory<byte>>(Failure(SubmitFailure.Stopped, "The node is not running."));
            default:
                break;
        }

        // Continuations may run synchronously: a turn never completes a task while it owns the loop (see
        // DeliverCompletions).
        var completion = _metrics is { TimesSubmissions: true }
            ? new TimedCompletion(Stopwatch.GetTimestamp())
            : new TaskCompletionSource<ReadOnlyMemory<byte>>();
        if (ReferenceEquals(_deliveringFor, this))
        {
            // A continuation of this node's answers: held back, and the delivery wakes the loop once at its end.
            if (TryStage(new Input(null, update, completion)) is { } refused)
            {
                return Task.FromException<ReadOnlyMemory<byte>>(Refusal(refused));
            }

            _wakeAfterDelivery = true;
        }
        else if (_inbox.Writer.TryWrite(new Input(null, update, completion)))
        {
            Wake(runHere: false);
        }
        else
        {
            return Task.FromException<ReadOnlyMemory<byte>>(Refusal(SubmitFailure.Overloaded));
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state =>
            {
                // A cancelled submission stops waiting at once, and leaves the table (if the loop has put it there).
                var (node, update, completion) = ((PaxosNode, ClientUpdate, TaskCompletionSource<ReadOnlyMemory<byte>>))state!;
                if (completion.TrySetCanceled())
                {
                    node.RemoveWaiter((update.ClientId, update.Timestamp), completion);
                }
            }, (this, update, completion));
            _ = completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return completion.Task;
    }

    /// <summary>Stops the loop, the clock and the transport. Waiting submissions fail with
    /// <see cref="SubmitFailure.Stopped"/>; their updates may still execute elsewhere.</summary>
    /// <param name="cancellationToken">Stops waiting for the loop to finish.</param>
    public async Task StopAsync(CancellationToken cancellationToken = default)
    {
        TaskCompletionSource? mine = null;
        Task stopped;
        lock (_lifecycle)
        {
            if (_stopped is null)
            {
                mine = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                _stopped = mine.Task;
            }

            stopped = _stopped;
        }

        if (mine is not null)
        {
            try
            {
                await StopOnceAsync().ConfigureAwait(false);
                mine.SetResult();
            }
            catch (Exception exception)
            {
                mine.SetException(exception);
            }
        }

        await stopped.WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task StopOnceAsync()
    {
        bool wasRunning;
        ITimer? timer;
        lock (_lifecycle)
        {
            timer = _timer; // Null if StartAsync has not made it yet; then StartClock disposes it (_stopped is set).
            wasRunning = _nodeState == NodeState.Running;
            if (_nodeState is NodeState.Running or NodeState.Created)
            {
                _nodeState = NodeState.Stopped;
            }

            if (!_started)
            {
                return;
            }
        }

        if (timer is not null)
        {
            await timer.DisposeAsync().ConfigureAwait(false);
        }

        await _stopping.CancelAsync().ConfigureAwait(false);

        // Take the loop for good: a turn that is running sees the cancellation at its next iteration and lets go.
        while (Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0 && wasRunning && _nodeState != NodeState.Faulted)
        {
            await Task.Delay(1, CancellationToken.None).ConfigureAwait(false);
        }

        _loopRetired = true; // No turn runs from now on (a faulted node's turn stopped for good when it faulted).

        if (wasRunning && _nodeState != NodeState.Faulted)
        {
            FailAll(SubmitFailure.Stopped, "The node stopped.", null);
            PublishStatus();
            NodeLog.Stopped(_logger, Id);
        }

        _inbox.Writer.TryComplete();
        _writer?.Dispose();
        await _transport.DisposeAsync().ConfigureAwait(false);
        if (_ownsStorage && _storage is IDisposable disposable)
        {
            disposable.Dispose();
        }
    }

    /// <summary>The storage a node uses when none is given: the file log in <see cref="PaxosOptions.DataDirectory"/>,
    /// or memory when no directory is set.</summary>
    private static IReplicaStorage DefaultStorage(PaxosOptions options, ILoggerFactory loggerFactory) =>
        options.DataDirectory is { Length: > 0 } directory
            ? new FileReplicaStorage(
                new FileReplicaStorageOptions { DataDirectory = directory, Identity = ReplicaIdentity.From(options) },
                loggerFactory.CreateLogger<FileReplicaStorage>())
            : new InMemoryReplicaStorage();

    /// <summary>Batches that needed an fsync and were written by the loop's thread itself rather than the storage
    /// writer's (a non-leader with nothing else waiting; see <c>MaySyncHere</c>). Read after the node stopped, or
    /// as an estimate.</summary>
    internal long BatchesSyncedOnLoop => Volatile.Read(ref _batchesSyncedOnLoop);

    /// <summary>Answers the <see cref="GetCounters"/> callers that asked the loop for a copy, between two iterations
    /// of a turn; when none asked, the cost is one read.</summary>
    private void ServeCounterRequests(PaxosReplica replica)
    {
        var requests = Volatile.Read(ref _counterRequests);
        if (requests != _counterRequestsServed)
        {
            _servedCounters = new ServedCounters(requests, replica.Counters.Snapshot());
            _counterRequestsServed = requests;
        }
    }

    /// <summary>Peer messages and submissions waiting in the inbox; for metrics.</summary>
    internal int InboxDepth => _inbox.Reader.Count;

    /// <summary>
    /// A copy of the replica's counters (what it did and ignored), safe to call from any thread while the node runs.
    /// The copy is taken between two iterations of the loop, so its values are of one moment (for instance
    /// <see cref="ReplicaCounters.MessagesDropped"/> is the sum of its <see cref="ReplicaCounters.Dropped"/>), and
    /// nothing changes it afterwards. All zeros before <see cref="StartAsync"/> has loaded the replica; the final
    /// values once the node stopped or faulted.
    /// </summary>
    /// <remarks>The caller takes the loop's turn for the copy; when a turn is running, it asks the loop for one and
    /// waits until either the loop has taken it (after at most a few iterations) or the turn ends. The loop holds no
    /// lock of its own on its counters, so updating them costs it nothing. Called from the loop itself — the
    /// executor — it copies at once. Meant for metrics and diagnostics, not for every request.</remarks>
    /// <returns>A snapshot that nothing writes to.</returns>
    public ReplicaCounters GetCounters()
    {
        if (Volatile.Read(ref _replica) is not { } replica)
        {
            return new ReplicaCounters();
        }

        if (ReferenceEquals(_turnOf, this) || _loopRetired || _nodeState == NodeState.Faulted)
        {
            return replica.Counters.Snapshot(); // The loop's own thread, or no turn will ever write again.
        }

        var spinner = default(SpinWait);
        long? request = null;
        while (Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0)
        {
            if (_loopRetired || _nodeState == NodeState.Faulted)
            {
                return replica.Counters.Snapshot();
            }

            // The loop answers between two of its turns' batches of iterations (ServeCounterRequests).
            request ??= Interlocked.Increment(ref _counterRequests);
            if (_servedCounters is { } served && served.Requests >= request)
            {
                return served.Counters;
            }

            spinner.SpinOnce();
        }

        ReplicaCounters copy;
        try
        {
            copy = replica.Counters.Snapshot();
        }
        finally
        {
            Interlocked.Exchange(ref _turnOwned, 0);
        }

        // A post or a tick that found the loop taken relied on its owner to look once more, as a turn does.
        if (HasWork(_inbox.Reader))
        {
            Wake(runHere: false);
        }

        return copy;
    }

    /// <summary>What the node's storage counted, when it is the file log; null otherwise.</summary>
    public StorageCounters? StorageCounters => (_storage as FileReplicaStorage)?.Counters;

    /// <summary>Stops the node (idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    private void OnTimer()
    {
        if (Interlocked.Increment(ref _pendingTicks) == 1)
        {
            Wake(runHere: true);
        }
    }

    /// <summary>Holds back a submission made during a delivery of this node's answers (<see cref="_staging"/>);
    /// null when it is, else why it cannot be: as many are held back already as the inbox holds (Overloaded), or the
    /// node stopped or faulted meanwhile.</summary>
    private SubmitFailure? TryStage(Input submission)
    {
        if (Interlocked.Increment(ref _stagedSubmissions) > _options.MaxInboxMessages)
        {
            Interlocked.Decrement(ref _stagedSubmissions);
            return SubmitFailure.Overloaded;
        }

        var staging = _staging;
        if (staging is null)
        {
            staging = new StagedSubmissions(Volatile.Read(ref _clockTurns));
            lock (_stagingGate)
            {
                if (_stagingClosed)
                {
                    Interlocked.Decrement(ref _stagedSubmissions);
                    return StoppedReason();
                }

                _openStagings.Add(staging);
            }

            _staging = staging;
        }

        lock (staging)
        {
            if (_stagingClosed)
            {
                Interlocked.Decrement(ref _stagedSubmissions);
                return StoppedReason();
            }

            staging.Items.Add(submission);
        }

        return null;
    }

    private SubmitFailure StoppedReason() => _nodeState == NodeState.Faulted ? SubmitFailure.Faulted : SubmitFailure.Stopped;

    /// <summary>At the end of a delivery: its held-back submissions enter the inbox as one input (those a clock
    /// tick's turn took up meanwhile are gone from it). Refused by a full or closed inbox, they fail at once.</summary>
    private void PostStaged(StagedSubmissions staging)
    {
        lock (_stagingGate)
        {
            _openStagings.Remove(staging);
        }

        List<Input> items;
        lock (staging)
        {
            items = staging.Items;
            staging.Items = [];
        }

        if (items.Count == 0 || _inbox.Writer.TryWrite(new Input(null, null, null, items)))
        {
            return;
        }

        Interlocked.Add(ref _stagedSubmissions, -items.Count);
        var reason = _nodeState == NodeState.Running ? SubmitFailure.Overloaded : StoppedReason();
        foreach (var item in items)
        {
            item.Completion!.TrySetException(Refusal(reason));
        }
    }

    /// <summary>The exception for a submission the inbox (or the held-back submissions' bound) refused, or that the
    /// node's stop or fault left unanswered.</summary>
    private PaxosSubmitException Refusal(SubmitFailure reason) => Failure(reason, reason switch
    {
        SubmitFailure.Overloaded => "The node's inbox is full.",
        SubmitFailure.Faulted => "The node stopped after a failure.",
        _ => "The node stopped.",
    });

    /// <summary>Takes up the submissions that deliveries on other threads have held back for two turns of the clock
    /// or more, so that a continuation that blocks (which <see cref="PaxosOptions.UnsafePreferInlineCompletions"/>
    /// forbids, but which must not hang the node) gets its own submission answered. Two, not one: a delivery that
    /// merely began just before a tick is not split by it; and turns, not ticks: ticks a late loop piled up would age
    /// a delivery that began a moment ago, and take its submissions ahead of earlier ones still in the inbox.</summary>
    private void ApplyOpenStagings(PaxosReplica replica)
    {
        lock (_stagingGate)
        {
            foreach (var staging in _openStagings)
            {
                if (_clockTurns - staging.StartedAtTurn < 2)
                {
                    continue;
                }

                lock (staging)
                {
                    ApplySubmissions(replica, staging.Items);
                    staging.Items.Clear();
                }
            }
        }
    }

    private void ApplySubmissions(PaxosReplica replica, List<Input> submissions)
    {
        Interlocked.Add(ref _stagedSubmissions, -submissions.Count);
        foreach (var submission in submissions)
        {
            OnSubmit(replica, submission.Update!, submission.Completion!);
        }
    }

    private void Post(PaxosMessage message)
    {
        if (!_inbox.Writer.TryWrite(new Input(message, null, null)))
        {
            Interlocked.Increment(ref _messagesDroppedInboxFull);
            return;
        }

        Wake(runHere: true);
    }

    /// <summary>
    /// Makes sure a turn of the loop will see what was just posted: if none is running, starts one — here when
    /// <paramref name="runHere"/> allows it and this thread is not already in some node's turn (an in-process
    /// transport delivers on the sender's turn), else on the thread pool. If a turn is running, it sees the post:
    /// it looks at the inbox once more after it lets go of the loop.
    /// </summary>
    private void Wake(bool runHere)
    {
        if (_nodeState != NodeState.Running || Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0)
        {
            return;
        }

        if (runHere && _turnOf is null)
        {
            RunTurn();
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(RunTurnOnPool, this, preferLocal: false);
        }
    }

    /// <summary>
    /// Called by the storage writer's thread once batches are durable (or it failed). With nothing more queued
    /// for the disk, and the loop free, it acknowledges and sends what just became durable itself — no thread
    /// wake-up — taking no inputs and no ticks, and hands anything else to the thread pool; with more to write it
    /// only wakes the loop on the pool and goes straight to the next fsync, which a turn must never hold up.
    /// </summary>
    private void WakeFromWriter(bool moreToWrite)
    {
        if (moreToWrite || _nodeState != NodeState.Running || Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0)
        {
            Wake(runHere: false);
            return;
        }

        var replica = _replica!;
        _turnOf = this;
        bool running;
        try
        {
            running = RunIteration(replica, _inbox.Reader, takeInputs: false);
        }
        finally
        {
            _turnOf = null;
        }

        // Stopping: let go, so that StopAsync takes the loop. Faulted: keep it, so no turn runs again.
        if (!running && _nodeState == NodeState.Faulted)
        {
            return;
        }

        // Let go, and leave whatever else there is (inputs, ticks) to the thread pool: the next fsync must not wait.
        Interlocked.Exchange(ref _turnOwned, 0);
        if (running && HasWork(_inbox.Reader))
        {
            Wake(runHere: false);
        }
    }

    /// <summary>One turn of the loop, by the thread that owns it (<see cref="_turnOwned"/> is 1): a few iterations
    /// here, the rest on the thread pool. With <see cref="PaxosOptions.UnsafePreferInlineCompletions"/> the answers
    /// the turn decides are delivered on this thread once it has let go of the loop (unless deliveries already nest
    /// deeply here), instead of on the thread pool.</summary>
    private void RunTurn()
    {
        var replica = _replica!;
        var reader = _inbox.Reader;
        var deliverHere = _options.UnsafePreferInlineCompletions && _inlineDeliveryDepth < MaxInlineDeliveryDepth;
        List<Completion>? collected = null;
        _turnOf = this;
        _collectCompletions = deliverHere;
        try
        {
            while (true)
            {
                for (var iteration = 0; iteration < MaxIterationsPerTurn && HasWork(reader); iteration++)
                {
                    if (!RunIteration(replica, reader))
                    {
                        collected = deliverHere ? TakeCollected(collected) : null;

                        // Stopping: let go, so that StopAsync takes the loop. Faulted: keep it, so no turn runs again.
                        if (_nodeState != NodeState.Faulted)
                        {
                            Interlocked.Exchange(ref _turnOwned, 0);
                        }

                        return;
                    }
                }

                ServeCounterRequests(replica);
                collected = deliverHere ? TakeCollected(collected) : null;
                if (HasWork(reader))
                {
                    // Still busy: the rest runs on the thread pool, and this thread goes back to its own work.
                    ThreadPool.UnsafeQueueUserWorkItem(RunTurnOnPool, this, preferLocal: false);
                    return;
                }

                // Let go, then look once more: a post that found the loop owned relied on this turn to see it.
                Interlocked.Exchange(ref _turnOwned, 0);
                if (!HasWork(reader) || Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0)
                {
                    return;
                }

                _collectCompletions = deliverHere;
            }
        }
        finally
        {
            _turnOf = null;
            if (collected is not null)
            {
                Deliver(this, collected);
            }
        }
    }

    /// <summary>Takes the answers this turn kept for delivery on its own thread (while it still owns the loop), and
    /// stops keeping them: whoever owns the loop next decides for itself.</summary>
    private List<Completion>? TakeCollected(List<Completion>? collected)
    {
        _collectCompletions = false;
        if (_completions.Count == 0)
        {
            return collected;
        }

        if (collected is null)
        {
            collected = _completions;
            _completions = new List<Completion>(Math.Min(collected.Count, 1024));
        }
        else
        {
            collected.AddRange(_completions);
            _completions.Clear();
        }

        return collected;
    }

    /// <summary>Drains the inbox, applies the pending ticks and the output; false once the node stopped or faulted.</summary>
    private bool RunIteration(PaxosReplica replica, ChannelReader<Input> reader, bool takeInputs = true)
    {
        if (_stopping.IsCancellationRequested)
        {
            return false;
        }

        try
        {
            // With the storage writer, first hand back what it made durable: that may lift the cap below.
            if (_writer is { } writer)
            {
                AcknowledgeDurable(replica, writer);
            }

            // Drain what is ready, so that one batch (one Proposal, one fsync) covers it all. At the writer's cap the
            // inputs stay in the bounded inbox (which then drops peer messages and refuses submissions) rather than
            // piling up as output in the replica while the disk catches up.
            if (takeInputs && !AtWriteCap)
            {
                var drained = 0;
                while (drained++ < _options.MaxInboxMessages && reader.TryRead(out var input))
                {
                    Apply(replica, input);
                }

                var ticks = Math.Min(Interlocked.Exchange(ref _pendingTicks, 0), MaxTicksPerIteration);
                if (ticks > 0)
                {
                    Volatile.Write(ref _clockTurns, _clockTurns + 1);
                    ApplyOpenStagings(replica);
                }

                for (var i = 0; i < ticks; i++)
                {
                    replica.Tick();
                }
            }

            ProcessOutput(replica);
            PublishStatus();
            DeliverCompletions();
            return true;
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            return false;
        }
        catch (Exception exception)
        {
            _nodeState = NodeState.Faulted;
            NodeLog.Faulted(_logger, Id, exception);
            FailAll(SubmitFailure.Faulted, "The node stopped after a failure.", exception);
            PublishStatus();
            return false;
        }
    }

    private bool HasWork(ChannelReader<Input> reader) =>
        !_stopping.IsCancellationRequested
        && (_writer?.HasDurable == true || (!AtWriteCap && (reader.TryPeek(out _) || Volatile.Read(ref _pendingTicks) > 0)));

    /// <summary>Whether the storage writer holds as many batches as it may: the loop then waits for the disk.</summary>
    private bool AtWriteCap => _writer is { } writer && writer.InFlight >= StorageWriter.MaxBatchesInFlight;

    private void Apply(PaxosReplica replica, Input input)
    {
        if (input.Message is { } message)
        {
            replica.Step(message);
        }
        else if (input.Update is { } update)
        {
            OnSubmit(replica, update, input.Completion!);
        }
        else if (input.Staged is { } staged)
        {
            ApplySubmissions(replica, staged);
        }
    }

    private void OnSubmit(PaxosReplica replica, ClientUpdate update, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        var status = replica.Submit(update);
        switch (status)
        {
            case SubmitStatus.Accepted:
            case SubmitStatus.AlreadyExecuted:
                if (!TryAddWaiter((update.ClientId, update.Timestamp), completion))
                {
                    _completions.Add(new(completion, default, Failure(SubmitFailure.Overloaded,
                        $"Client {update.ClientId}'s update {update.Timestamp} has {MaxWaitersPerUpdate} submissions waiting for it already.")));
                }

                break;
            case SubmitStatus.Stale:
                _completions.Add(new(completion, default, Failure(SubmitFailure.Stale, $"Client {update.ClientId} already has a newer update than timestamp {update.Timestamp}.")));
                break;
            case SubmitStatus.TooLarge:
                _completions.Add(new(completion, default, Failure(SubmitFailure.UpdateTooLarge, "The update's payload is too large.")));
                break;
            default:
                _completions.Add(new(completion, default, Failure(SubmitFailure.Overloaded, $"Replica {Id} is responsible for {_options.MaxPendingUpdates} pending updates already.")));
                break;
        }
    }

    /// <summary>Makes <paramref name="completion"/> wait for the update <paramref name="key"/> names; false when
    /// <see cref="MaxWaitersPerUpdate"/> submissions of it wait already. A submission cancelled before the loop got
    /// to it is not added (its cancellation found nothing to remove).</summary>
    private bool TryAddWaiter((ClientId, long) key, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        lock (_waitersGate)
        {
            if (completion.Task.IsCompleted)
            {
                return true;
            }

            ref var waiters = ref CollectionsMarshal.GetValueRefOrAddDefault(_waiters, key, out var exists);
            if (!exists)
            {
                waiters = new Waiters(completion, null);
                return true;
            }

            if (1 + (waiters.More?.Count ?? 0) >= MaxWaitersPerUpdate)
            {
                return false;
            }

            (waiters.More ??= []).Add(completion); // The same update submitted again while it waits.
            return true;
        }
    }

    /// <summary>Takes a cancelled submission out of the table, so that cancelled retries do not pile up.</summary>
    private void RemoveWaiter((ClientId, long) key, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        lock (_waitersGate)
        {
            if (!_waiters.TryGetValue(key, out var waiters))
            {
                return;
            }

            if (!ReferenceEquals(waiters.First, completion))
            {
                waiters.More?.Remove(completion);
            }
            else if (waiters.More is { Count: > 0 } more)
            {
                var next = more[0];
                more.RemoveAt(0);
                _waiters[key] = new Waiters(next, more);
            }
            else
            {
                _waiters.Remove(key);
            }
        }
    }

    /// <summary>Submissions waiting for an answer, over every update; for tests.</summary>
    internal int WaitingSubmissions
    {
        get
        {
            lock (_waitersGate)
            {
                var count = 0;
                foreach (var waiters in _waiters.Values)
                {
                    count += 1 + (waiters.More?.Count ?? 0);
                }

                return count;
            }
        }
    }

    /// <summary>Applies output batches until the replica has nothing more to say, under the contract
    /// (<see cref="OutputBatch"/>): send the immediate messages, answer (an executed update rests on a durable
    /// majority already, so its caller need not wait for this batch's fsync), persist (one sync covers the batch),
    /// send, acknowledge (sending first: see <see cref="AcknowledgeDurable"/>). The turn waits for the storage:
    /// nothing else may happen in the loop before the batch is durable, and most stores complete synchronously
    /// anyway.</summary>
    private void ProcessOutput(PaxosReplica replica)
    {
        if (_writer is { } writer)
        {
            ProcessOutputPipelined(replica, writer);
            return;
        }

        while (true)
        {
            var batch = replica.TakeOutput();
            if (batch.IsEmpty)
            {
                return;
            }

            Send(batch.ImmediateMessages);
            Answer(batch);
            DeliverCompletions();
            PersistInline(batch);
            Send(batch.Messages); // Before the acknowledgement, which may order and execute: see AcknowledgeDurable.
            replica.AcknowledgePersisted(batch.Number);
            replica.ReleaseOutput(batch);
        }
    }

    /// <summary>
    /// The same contract with the writes on the <see cref="StorageWriter"/>'s thread. The iteration began by
    /// acknowledging and sending the batches the writer made durable (<see cref="AcknowledgeDurable"/>, in order: a
    /// batch's messages wait for it and every batch before it); here the replica's new output is taken, its
    /// immediate messages sent, its replies answered, and it is handed to the writer. While an fsync is in
    /// flight the loop goes on taking messages; what they produce is written together and covered by the next fsync.
    /// At <see cref="StorageWriter.MaxBatchesInFlight"/> batches handed over, output stays in the replica until the
    /// disk catches up.
    /// </summary>
    private void ProcessOutputPipelined(PaxosReplica replica, StorageWriter writer)
    {
        while (writer.InFlight < StorageWriter.MaxBatchesInFlight)
        {
            var batch = replica.TakeOutput();
            if (batch.IsEmpty)
            {
                break;
            }

            Send(batch.ImmediateMessages);
            Answer(batch);
            if (writer.InFlight == 0 && (!batch.RequiresSync || MaySyncHere(replica)))
            {
                // Nothing to fsync and nothing before it in flight: its ordered slots (if any) take one write without a
                // sync, here, and its messages leave at once — no wake-up of the writer's thread, and no lazy write
                // for the next Proposal's fsync to queue behind. A batch that needs an fsync is written here too when
                // MaySyncHere says nothing else waits for this thread.
                PersistInline(batch);
                if (batch.RequiresSync)
                {
                    _batchesSyncedOnLoop++;
                    _metrics?.RecordSyncedWrite(new ReadOnlySpan<OutputBatch>(in batch));
                }

                Send(batch.Messages);
                replica.AcknowledgePersisted(batch.Number);
                replica.ReleaseOutput(batch);
                continue;
            }

            // Any other batch that needs an fsync goes through the writer, even when it is idle. History, measured
            // over UDP at 64 writers: always syncing here when the writer was idle gave 18,000 updates/s against
            // 28,000 through the writer (7,000 with LeaderSendsAccept); on later code one writer gained 24–36% and 64
            // writers lost 17–30%, on followers only 64 writers halved — a receive thread blocked in an fsync split
            // the next group commit. Asking the transport whether input waits (MaySyncHere) fixed that, and once
            // durable batches' messages left before their acknowledgement (AcknowledgeDurable), three interleaved
            // pairs per mode gave one writer +7/+31/+9% (default) and +12/+22/−6% (LeaderSendsAccept), 64 writers
            // −7/+10/+16% and −7/+1/+13% (docs/performance.md).
            writer.Enqueue(batch);
        }

        DeliverCompletions();
    }

    /// <summary>
    /// Whether this thread may wait for a batch's fsync itself instead of handing the batch to the writer's thread,
    /// which saves waking that thread (on a small or virtualised machine a large part of a round). Only on a
    /// non-leader, and only when nothing else waits for this thread: no input in the inbox, and none the transport
    /// could hand over next (<see cref="ITransport.HasPendingInput"/>: the rest of the datagram being delivered, or
    /// another one queued — a transport that cannot tell says there may be). Otherwise the input behind would wait a
    /// whole fsync and then miss the group commit it would have joined on the writer's thread; that split groups in
    /// two when this was tried without asking the transport. A leader keeps its writes on the writer's thread: its
    /// loop also answers clients and proposes their next updates, which must not wait for its fsync.
    /// </summary>
    private bool MaySyncHere(PaxosReplica replica) =>
        replica.Status.State != ReplicaState.RegularLeader && !_inbox.Reader.TryPeek(out _) && !_transport.HasPendingInput;

    /// <summary>Sends, then acknowledges, the batches the writer made durable, oldest first.</summary>
    private void AcknowledgeDurable(PaxosReplica replica, StorageWriter writer)
    {
        writer.TakeDurable(_durable);
        if (_durable.Count == 0)
        {
            return;
        }

        // Their messages first, with one flush for them all (the messages of several batches to the same peer share
        // datagrams), then the acknowledgements. A durable batch's messages depend on nothing the acknowledgement
        // does, and it may do much: a non-leader that now holds a quorum with its own acceptance orders and executes
        // the slots right there (in the default mode, every Proposal's), and its Accept — what the leader waits for
        // — would wait for that execution.
        foreach (var batch in _durable)
        {
            Send(batch.Messages, flush: false);
        }

        _transport.Flush();

        foreach (var batch in _durable)
        {
            replica.AcknowledgePersisted(batch.Number);
            replica.ReleaseOutput(batch);
        }

        _durable.Clear();
    }

    private void PersistInline(OutputBatch batch)
    {
        var persisted = _storage.PersistAsync(batch, _stopping.Token);
        if (persisted.IsCompletedSuccessfully)
        {
            persisted.GetAwaiter().GetResult();
        }
        else
        {
            persisted.AsTask().GetAwaiter().GetResult();
        }
    }

    private void Send(IReadOnlyList<OutboundMessage> messages, bool flush = true)
    {
        if (messages.Count == 0)
        {
            return;
        }

        for (var i = 0; i < messages.Count; i++)
        {
            var outbound = messages[i];
            if (!outbound.IsBroadcast)
            {
                _transport.Send(outbound.Destination, outbound.Message);
                continue;
            }

            for (var peer = 0; peer < _options.ClusterSize; peer++)
            {
                if (peer != Id.Value)
                {
                    _transport.Send(new ReplicaId(peer), outbound.Message);
                }
            }
        }

        if (flush)
        {
            _transport.Flush();
        }
    }

    private void Answer(OutputBatch batch)
    {
        if (batch.Replies.Count == 0)
        {
            return;
        }

        lock (_waitersGate)
        {
            foreach (var reply in batch.Replies)
            {
                if (!_waiters.Remove((reply.ClientId, reply.Timestamp), out var waiters))
                {
                    continue;
                }

                var error = reply.Status == ReplyStatus.Executed ? null
                    : Failure(SubmitFailure.Superseded, $"Client {reply.ClientId} submitted a newer update before timestamp {reply.Timestamp} executed.");
                _completions.Add(new(waiters.First, reply.Result, error));
                foreach (var completion in waiters.More ?? [])
                {
                    _completions.Add(new(completion, reply.Result, error));
                }
            }
        }
    }

    /// <summary>Hands the answers decided so far to one thread-pool work item, which completes their tasks in order.
    /// Their continuations (the callers' code) run there, never on the loop, and a whole batch costs one work item.
    /// A turn that delivers on its own thread (<see cref="PaxosOptions.UnsafePreferInlineCompletions"/>) keeps
    /// them instead, for after it lets go of the loop.</summary>
    private void DeliverCompletions()
    {
        if (_completions.Count == 0 || _collectCompletions)
        {
            return;
        }

        var completions = _completions;
        _completions = new List<Completion>(Math.Min(completions.Count, 1024));
        ThreadPool.UnsafeQueueUserWorkItem(DeliverOnPool, (this, completions), preferLocal: false);
    }

    private void FailAll(SubmitFailure reason, string message, Exception? cause)
    {
        _inbox.Writer.TryComplete();
        while (_inbox.Reader.TryRead(out var input))
        {
            Fail(input.Completion);
            foreach (var staged in input.Staged ?? [])
            {
                Fail(staged.Completion);
            }
        }

        // Submissions that deliveries still hold back (a continuation may be blocked waiting for its own): failed
        // too, and no delivery holds back any more (TryStage reads the flag under the staging's lock).
        lock (_stagingGate)
        {
            _stagingClosed = true;
            foreach (var staging in _openStagings)
            {
                lock (staging)
                {
                    foreach (var staged in staging.Items)
                    {
                        Fail(staged.Completion);
                    }

                    staging.Items.Clear();
                }
            }

            _openStagings.Clear();
        }

        lock (_waitersGate)
        {
            foreach (var waiters in _waiters.Values)
            {
                Fail(waiters.First);
                foreach (var completion in waiters.More ?? [])
                {
                    Fail(completion);
                }
            }

            _waiters.Clear();
        }
        DeliverCompletions();

        void Fail(TaskCompletionSource<ReadOnlyMemory<byte>>? completion)
        {
            if (completion is not null)
            {
                _completions.Add(new(completion, default, Failure(reason, message, cause)));
            }
        }
    }

    private PaxosSubmitException Failure(SubmitFailure reason, string message, Exception? cause = null)
    {
        var leader = _status.Value.Leader;
        return new PaxosSubmitException(reason, leader.IsNone ? null : leader, message, cause);
    }

    private void PublishStatus()
    {
        var replica = _replica;
        if (replica is null)
        {
            return;
        }

        var status = replica.Status with { IsFaulted = replica.IsFaulted || _nodeState == NodeState.Faulted };
        if (status != _status.Value)
        {
            _status = new StatusBox(status);
        }
    }

    /// <summary>One input of the loop: a peer's message, a submission (its update and its task), or the
    /// submissions one delivery held back (<see cref="Staged"/>, each a submission).</summary>
    private readonly record struct Input(PaxosMessage? Message, ClientUpdate? Update, TaskCompletionSource<ReadOnlyMemory<byte>>? Completion, List<Input>? Staged = null);

    /// <summary>The submissions one delivery holds back (see <see cref="_staging"/>); locked by itself.</summary>
    /// <param name="startedAtTurn">The node's <see cref="_clockTurns"/> when the first was held back.</param>
    private sealed class StagedSubmissions(long startedAtTurn)
    {
        public long StartedAtTurn { get; } = startedAtTurn;

        public List<Input> Items { get; set; } = [];
    }

    /// <summary>A submission's task, with when it was submitted: made instead of a plain one only while
    /// <c>paxos.submit.duration</c> is listened to, so that timing costs nothing otherwise.</summary>
    private sealed class TimedCompletion(long startedAt) : TaskCompletionSource<ReadOnlyMemory<byte>>
    {
        public long StartedAt { get; } = startedAt;
    }

    /// <summary>Who waits for one update: almost always one caller; <see cref="More"/> only when the same update was
    /// submitted again before it executed.</summary>
    private record struct Waiters(TaskCompletionSource<ReadOnlyMemory<byte>> First, List<TaskCompletionSource<ReadOnlyMemory<byte>>>? More);

    /// <summary>An answer to deliver: a result, or an error.</summary>
    private readonly record struct Completion(TaskCompletionSource<ReadOnlyMemory<byte>> Source, ReadOnlyMemory<byte> Result, Exception? Error);

    private sealed record StatusBox(ReplicaStatus Value);

    /// <summary>A copy of the counters the loop took for <see cref="GetCounters"/>, once <paramref name="Requests"/>
    /// requests had been made.</summary>
    private sealed record ServedCounters(long Requests, ReplicaCounters Counters);

    private sealed class Receiver(PaxosNode node) : ITransportReceiver
    {
        public void Receive(PaxosMessage message) => node.Post(message);
    }
}
