using System.Diagnostics;
using System.Diagnostics.Metrics;
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
/// <para>The protocol work itself — stepping the replica and applying its output batches under the durability
/// contract — is a <see cref="ReplicaDriver"/>'s, the same class the simulator runs; this class is the concurrent
/// shell around it: the inbox, the clock, the turns of the loop (PaxosNode.Loop.cs), the table of waiting
/// submissions (<see cref="SubmissionTable"/>) and the delivery of answers (<see cref="InlineCompletions"/>).</para>
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
/// loop together when the delivery ends, so that one Proposal carries it (<see cref="InlineCompletions"/>).</para>
/// </remarks>
public sealed partial class PaxosNode : IAsyncDisposable
{
    /// <summary>How many submissions of one (client id, timestamp) may wait for its answer at once (see
    /// <see cref="SubmissionTable.MaxWaitersPerUpdate"/>).</summary>
    internal const int MaxWaitersPerUpdate = SubmissionTable.MaxWaitersPerUpdate;

    private readonly PaxosOptions _options;
    private readonly IExecutor _executor;
    private readonly ITransport _transport;
    private readonly IReplicaStorage _storage;
    private readonly bool _ownsStorage;
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly TimeProvider _timeProvider;
    private readonly ulong _seed;
    private readonly Channel<NodeInput> _inbox;

    /// <summary>The node's instruments; null without a meter factory, and then nothing is measured.</summary>
    private readonly PaxosMetrics? _metrics;

    /// <summary>Who waits for which update.</summary>
    private readonly SubmissionTable _submissions = new();

    /// <summary>Delivery of answers on the turn's thread; only with <see cref="PaxosOptions.UnsafePreferInlineCompletions"/>.</summary>
    private readonly InlineCompletions? _inline;

    private readonly CancellationTokenSource _stopping = new();
    private readonly Lock _lifecycle = new();

    private PaxosReplica? _replica;
    private ITimer? _timer;
    private bool _started;
    private Task? _stopped;

    private volatile StatusBox _status;
    private volatile NodeState _nodeState;

    /// <summary>When the replica last entered leader election (<see cref="TimeProvider.GetTimestamp"/>), while it is in
    /// it; written by the loop, read by a timing-out submission (a torn read only blurs a message).</summary>
    private long? _electionSince;
    private long _messagesDroppedInboxFull;

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
        if (_storage is IGroupCommitStorage log)
        {
            log.ExpectIdentity(ReplicaIdentity.From(options)); // Checked against the directory when it is loaded.
        }

        _logger = _loggerFactory.CreateLogger<PaxosNode>();
        _timeProvider = timeProvider ?? TimeProvider.System;
        _seed = seed ?? (ulong)Random.Shared.NextInt64();
        _inbox = Channel.CreateBounded<NodeInput>(new BoundedChannelOptions(options.MaxInboxMessages)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        Id = new ReplicaId(options.ReplicaId);
        _status = new StatusBox(new ReplicaStatus { Id = Id, Leader = ReplicaId.None });
        _metrics = meterFactory is null ? null : new PaxosMetrics(this, (_storage as IGroupCommitStorage)?.Counters, meterFactory);
        _inline = options.UnsafePreferInlineCompletions ? new InlineCompletions(this, options.MaxInboxMessages) : null;
        _pendingReads = new PendingReadTable(options.MaxPendingReads);
        _readInbox = new ReadInbox(options.MaxInboxMessages);
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
        var replica = new PaxosReplica(_options.ToProtocolOptions(), _executor, recovered, _loggerFactory.CreateLogger<PaxosReplica>(), _seed);
        _replica = replica;
        lock (_lifecycle)
        {
            ThrowIfStoppedWhileStarting();
            if (_storage is IGroupCommitStorage log)
            {
                _writer = new StorageWriter(log, WakeFromWriter, $"Paxos storage r{Id.Value}", _metrics);
            }

            if (_storage is ISnapshotStorage snapshots)
            {
                _snapshotWriter = new SnapshotWriterThread(snapshots, () => Wake(runHere: false));
            }

            _driver = new ReplicaDriver(replica, _storage, _transport, _options.ClusterSize, _writer, new DriverObserver(this), _snapshotWriter, _stopping.Token);
        }

        _clockStart = _timeProvider.GetTimestamp(); // The replica's tick 0.

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
        if (_inline is { IsDeliveringHere: true } inline)
        {
            // A continuation of this node's answers: held back, and the delivery wakes the loop once at its end.
            if (inline.TryStage(new NodeInput(null, update, completion)) is { } refused)
            {
                return Task.FromException<ReadOnlyMemory<byte>>(Refusal(refused));
            }
        }
        else if (_inbox.Writer.TryWrite(new NodeInput(null, update, completion)))
        {
            Wake(runHere: false);
        }
        else
        {
            return Task.FromException<ReadOnlyMemory<byte>>(Refusal(SubmitFailure.Overloaded));
        }

        if (_options.SubmitTimeout != System.Threading.Timeout.InfiniteTimeSpan)
        {
            StartSubmitTimer(update, completion);
        }

        if (cancellationToken.CanBeCanceled)
        {
            var registration = cancellationToken.Register(static state =>
            {
                // A cancelled submission stops waiting at once, and leaves the table (if the loop has put it there).
                var (node, update, completion) = ((PaxosNode, ClientUpdate, TaskCompletionSource<ReadOnlyMemory<byte>>))state!;
                if (completion.TrySetCanceled())
                {
                    node._submissions.Remove((update.ClientId, update.Timestamp), completion);
                }
            }, (this, update, completion));
            _ = completion.Task.ContinueWith(static (_, state) => ((CancellationTokenRegistration)state!).Dispose(), registration, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        return completion.Task;
    }

    /// <summary>
    /// Opens a client session: registers it through the log (one ordered update, never seen by the executor) under a
    /// random registration nonce, and returns its numbering. The session's id is cluster-unique and the same on every
    /// replica; submit its updates (<see cref="ClientSession.NextUpdate"/>) to any replica, one at a time. A client that
    /// restarts opens a new session. A session that sends nothing for <see cref="PaxosOptions.ClientExpirySlots"/>
    /// slots expires (<see cref="SubmitFailure.SessionExpired"/>).
    /// </summary>
    /// <param name="cancellationToken">Stops waiting (the registration may still execute, and then expires unused).</param>
    /// <returns>The new session, before its first update.</returns>
    /// <exception cref="PaxosSubmitException">The registration failed or timed out (<see cref="PaxosOptions.SubmitTimeout"/>);
    /// see <see cref="PaxosSubmitException.Reason"/>. Retrying opens another session; to retry the same registration,
    /// use <see cref="RegisterSessionAsync"/> with one nonce.</exception>
    public async Task<ClientSession> OpenSessionAsync(CancellationToken cancellationToken = default)
    {
        var id = await RegisterSessionAsync(ClientSession.NewRegistrationNonce(), cancellationToken).ConfigureAwait(false);
        return new ClientSession(id);
    }

    /// <summary>
    /// Registers a session under a nonce the caller chose (<see cref="ClientSession.NewRegistrationNonce"/>): a client
    /// that did not hear the answer retries with the same nonce, here or at another replica, and gets the same session
    /// — the registration executes once. (Once the nonce itself has been forgotten, after
    /// <see cref="PaxosOptions.ClientExpirySlots"/> slots, a retry registers a new session; the unused one expires.)
    /// </summary>
    /// <param name="registrationNonce">The nonce: bit 61 set, bits 62 and 63 clear, the rest random.</param>
    /// <param name="cancellationToken">Stops waiting.</param>
    /// <returns>The session id.</returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="registrationNonce"/> is not a registration nonce.</exception>
    /// <exception cref="PaxosSubmitException">The registration failed or timed out; see
    /// <see cref="PaxosSubmitException.Reason"/>.</exception>
    public async Task<ClientId> RegisterSessionAsync(long registrationNonce, CancellationToken cancellationToken = default)
    {
        var registration = ClientSession.RegistrationUpdate(registrationNonce);
        var reply = await SubmitAsync(registration, cancellationToken).ConfigureAwait(false);
        return ClientSession.SessionIdOf(reply.Span);
    }

    /// <summary>Fails <paramref name="completion"/> with <see cref="SubmitFailure.TimedOut"/> unless it completes
    /// within <see cref="PaxosOptions.SubmitTimeout"/>.</summary>
    private void StartSubmitTimer(ClientUpdate update, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        var timer = _timeProvider.CreateTimer(static state =>
        {
            var (node, update, completion) = ((PaxosNode, ClientUpdate, TaskCompletionSource<ReadOnlyMemory<byte>>))state!;
            if (!completion.Task.IsCompleted && completion.TrySetException(node.TimedOut(update)))
            {
                node._submissions.Remove((update.ClientId, update.Timestamp), completion);
            }
        }, (this, update, completion), _options.SubmitTimeout, System.Threading.Timeout.InfiniteTimeSpan);
        _ = completion.Task.ContinueWith(static (_, state) => ((ITimer)state!).Dispose(), timer, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>The error of a submission that timed out: what the node knew of the cluster, which is most often why.</summary>
    private PaxosSubmitException TimedOut(ClientUpdate update)
    {
        var status = _status.Value;
        var timeout = _options.SubmitTimeout.TotalSeconds.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture);
        string why;
        if (_nodeState != NodeState.Running)
        {
            why = "the node is not running";
        }
        else if (status.IsRebuilding)
        {
            why = "this replica is rebuilding its lost state from its peers and does not take part yet";
        }
        else if (status.State == ReplicaState.LeaderElection)
        {
            var since = _electionSince is { } start ? $" for {(_timeProvider.GetTimestamp() - start) / (double)_timeProvider.TimestampFrequency:0.###} s" : string.Empty;
            why = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"no leader is known: replica {Id} has been in leader election{since}, trying to install view {status.LastAttempted.Value} (last installed view {status.LastInstalled.Value}); a view needs a majority of {(_options.ClusterSize / 2) + 1} of {_options.ClusterSize} replicas that can reach one another");
        }
        else if (status.State == ReplicaState.RegularNonLeader)
        {
            why = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"replica {Id} forwarded it to leader {status.Leader.Value} of view {status.LastInstalled.Value}, which has not ordered it (the leader may be down, partitioned or overloaded; replicas suspect it after {_options.ProgressTimeoutTicks} ticks without progress); executed through slot {status.LocalAru.Value}");
        }
        else
        {
            why = string.Create(System.Globalization.CultureInfo.InvariantCulture,
                $"replica {Id} leads view {status.LastInstalled.Value} but no majority of {(_options.ClusterSize / 2) + 1} accepted its proposals in time (executed through slot {status.LocalAru.Value}, proposed through {status.LastProposed.Value}, {status.UpdateQueueLength} updates queued): peers may be down or partitioned");
        }

        return Failure(SubmitFailure.TimedOut, string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"Client {update.ClientId}'s update {update.Timestamp} got no answer within {timeout} s ({nameof(PaxosOptions.SubmitTimeout)}): {why}. It may still execute; re-submit the same (client id, timestamp) to learn its result."));
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
        _snapshotWriter?.Dispose();
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

    /// <summary>Peer messages, submissions and reads waiting for the loop to take them; for metrics.</summary>
    internal int InboxDepth => _inbox.Reader.Count + _readInbox.Count;

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

        if (ReferenceEquals(t_turnOf, this) || _loopRetired || _nodeState == NodeState.Faulted)
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
    public StorageCounters? StorageCounters => (_storage as IGroupCommitStorage)?.Counters;

    /// <summary>Stops the node (idempotent).</summary>
    public async ValueTask DisposeAsync()
    {
        await StopAsync().ConfigureAwait(false);
        _stopping.Dispose();
    }

    internal SubmitFailure StoppedReason() => _nodeState == NodeState.Faulted ? SubmitFailure.Faulted : SubmitFailure.Stopped;

    /// <summary>The exception for a submission the inbox (or the held-back submissions' bound) refused, or that the
    /// node's stop or fault left unanswered.</summary>
    private PaxosSubmitException Refusal(SubmitFailure reason) => Failure(reason, reason switch
    {
        SubmitFailure.Overloaded => "The node's inbox is full.",
        SubmitFailure.Faulted => "The node stopped after a failure.",
        _ => "The node stopped.",
    });

    private PaxosSubmitException Failure(SubmitFailure reason, string message, Exception? cause = null) =>
        new(reason, LeaderHintOrNull(), message, cause);

    private ReplicaId? LeaderHintOrNull()
    {
        var leader = _status.Value.Leader;
        return leader.IsNone ? null : leader;
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
            if (status.State != ReplicaState.LeaderElection)
            {
                _electionSince = null;
            }
            else if (_status.Value.State != ReplicaState.LeaderElection || _electionSince is null)
            {
                _electionSince = _timeProvider.GetTimestamp(); // For the message of a submission that times out.
            }

            _status = new StatusBox(status);
        }
    }

    /// <summary>A submission's task, with when it was submitted: made instead of a plain one only while
    /// <c>paxos.submit.duration</c> is listened to, so that timing costs nothing otherwise.</summary>
    private sealed class TimedCompletion(long startedAt) : TaskCompletionSource<ReadOnlyMemory<byte>>
    {
        public long StartedAt { get; } = startedAt;
    }


    private sealed record StatusBox(ReplicaStatus Value);
}
