using System.Globalization;
using System.Threading.Channels;
using Paxos.Diagnostics;
using Paxos.Hosting;
using Paxos.Messages;
using Paxos.Protocol;
using Paxos.Transport;

namespace Paxos;

/// <summary>The node's loop: who runs its turns, and what one iteration does (feed the driver, drain it, deliver
/// the answers).</summary>
public sealed partial class PaxosNode
{
    /// <summary>Iterations one turn of the loop runs before it hands the rest to the thread pool, so that a
    /// transport's receive thread goes back to receiving.</summary>
    private const int MaxIterationsPerTurn = 16;

    /// <summary>The node whose turn of the loop this thread is running, if any.</summary>
    [ThreadStatic]
    private static PaxosNode? t_turnOf;

    private static readonly Action<PaxosNode> RunTurnOnPool = static node => node.RunTurn();

    private static readonly Action<(PaxosNode Node, List<Completion> Completions)> DeliverOnPool =
        static work =>
        {
            work.Node.DeliverHere(work.Completions);
            work.Node.Recycle(work.Completions);
        };

    /// <summary>The largest list of answers kept for reuse once delivered: a burst (a stop failing every waiting
    /// submission) leaves a list that is not worth its memory afterwards.</summary>
    private const int MaxRecycledCompletions = 4096;

    /// <summary>Steps the replica and applies its output; the loop's, created by <see cref="StartAsync"/>.</summary>
    private ReplicaDriver? _driver;

    /// <summary>Persists batches on a thread of its own when the storage can group commit (null otherwise: the driver
    /// persists on the loop, as most stores complete synchronously).</summary>
    private StorageWriter? _writer;

    /// <summary>Writes snapshots on a thread of their own when the storage keeps snapshots (null otherwise).</summary>
    private SnapshotWriterThread? _snapshotWriter;

    /// <summary>Set by the tick timer to wake the loop; how many ticks are due comes from the clock.</summary>
    private int _pendingTicks;

    /// <summary>The time provider's timestamp at the replica's tick 0.</summary>
    private long _clockStart;

    /// <summary>Ticks given to the replica so far; the loop's only.</summary>
    private long _ticksDelivered;

    /// <summary>Batches that needed an fsync and got it on the loop's thread (<c>MaySyncHere</c>).</summary>
    private long _batchesSyncedOnLoop;

    /// <summary>Answers decided in the current iteration, handed to the thread pool together at its end.</summary>
    private List<Completion> _completions = [];

    /// <summary>A delivered list of answers, empty, kept for the loop's next batch of answers (one list is handed off
    /// with every batch, so without it each one cost an array); null when none is kept. Any thread.</summary>
    private List<Completion>? _spareCompletions;

    /// <summary>Whether the turn that owns the loop keeps its answers to deliver on its own thread.</summary>
    private bool _collectCompletions;

    /// <summary>Makes the error of an update answered without executing (superseded or expired); made once.</summary>
    private Func<ClientReply, Exception>? _notExecutedError;

    /// <summary>Hands held-back submissions to the replica; made once.</summary>
    private Action<List<NodeInput>>? _applyStaged;

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

    /// <summary>Iterations of the loop that gave the replica clock ticks (one however many ticks it gave, so that
    /// ticks piled up by a late loop do not age held-back submissions at once); written by the loop only.</summary>
    private long _clockTurns;

    /// <summary>Iterations of the loop that gave the replica clock ticks; read by <see cref="InlineCompletions"/>.</summary>
    internal long ClockTurns => Volatile.Read(ref _clockTurns);

    /// <summary>Batches that needed an fsync and were written by the loop's thread itself rather than the storage
    /// writer's (a non-leader with nothing else waiting; see <c>MaySyncHere</c>). Read after the node stopped, or
    /// as an estimate.</summary>
    internal long BatchesSyncedOnLoop => Volatile.Read(ref _batchesSyncedOnLoop);

    /// <summary>Submissions waiting for an answer, over every update; for tests.</summary>
    internal int WaitingSubmissions => _submissions.Count;

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


    /// <summary>Gives the replica the ticks its clock has passed since the last (none when under a tick has).</summary>
    private void DeliverDueTicks(ReplicaDriver driver)
    {
        var ticks = TicksDue();
        if (ticks == 0)
        {
            return;
        }

        Volatile.Write(ref _clockTurns, _clockTurns + 1);
        _inline?.ApplyOpenStagings(_clockTurns, _applyStaged ??= staged => ApplySubmissions(_driver!, staged));
        _ticksDelivered += ticks;
        driver.Tick(ticks);
    }

    /// <summary>Whole tick intervals elapsed on the clock since tick 0 and not yet given to the replica.</summary>
    private int TicksDue()
    {
        var elapsed = _timeProvider.GetElapsedTime(_clockStart).Ticks / _options.TickInterval.Ticks;
        return (int)Math.Clamp(elapsed - _ticksDelivered, 0, int.MaxValue);
    }

    private void OnTimer()
    {
        if (Interlocked.Increment(ref _pendingTicks) == 1)
        {
            Wake(runHere: true);
        }
    }


    /// <summary>Posts an input (the held-back submissions of a delivery); false when the inbox is full or closed.</summary>
    internal bool TryPost(NodeInput input) => _inbox.Writer.TryWrite(input);

    /// <summary>Fails submissions the inbox refused: overloaded, or the node stopped.</summary>
    internal void Refuse(List<NodeInput> submissions)
    {
        var reason = _nodeState == NodeState.Running ? SubmitFailure.Overloaded : StoppedReason();
        foreach (var item in submissions)
        {
            item.Completion!.TrySetException(Refusal(reason));
        }
    }

    private void ApplySubmissions(ReplicaDriver driver, List<NodeInput> submissions)
    {
        _inline?.Applied(submissions.Count);
        foreach (var submission in submissions)
        {
            OnSubmit(driver, submission.Update!, submission.Completion!);
        }
    }

    private void Post(PaxosMessage message)
    {
        if (!_inbox.Writer.TryWrite(new NodeInput(message, null, null)))
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
    internal void Wake(bool runHere)
    {
        if (_nodeState != NodeState.Running || Interlocked.CompareExchange(ref _turnOwned, 1, 0) != 0)
        {
            return;
        }

        if (runHere && t_turnOf is null)
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

        var driver = _driver!;
        t_turnOf = this;
        bool running;
        try
        {
            running = RunIteration(driver, _inbox.Reader, takeInputs: false);
        }
        finally
        {
            t_turnOf = null;
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
        var driver = _driver!;
        var reader = _inbox.Reader;
        var deliverHere = _inline is not null && InlineCompletions.MayDeliverHere;
        List<Completion>? collected = null;
        t_turnOf = this;
        _collectCompletions = deliverHere;
        try
        {
            while (true)
            {
                for (var iteration = 0; iteration < MaxIterationsPerTurn && HasWork(reader); iteration++)
                {
                    if (!RunIteration(driver, reader))
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

                ServeCounterRequests(driver.Replica);
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
            t_turnOf = null;
            if (collected is not null)
            {
                _inline!.Deliver(collected);
                Recycle(collected);
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
            _completions = FreshCompletions(collected.Count);
        }
        else
        {
            collected.AddRange(_completions);
            _completions.Clear();
        }

        return collected;
    }

    /// <summary>Drains the inbox, applies the pending ticks and the output; false once the node stopped or faulted.</summary>
    private bool RunIteration(ReplicaDriver driver, ChannelReader<NodeInput> reader, bool takeInputs = true)
    {
        if (_stopping.IsCancellationRequested)
        {
            return false;
        }

        try
        {
            // With the storage writer, first hand back what it made durable: that may lift the cap below.
            driver.AcknowledgeDurable();

            // The replica's time follows the clock, not the count of timer callbacks: after a stall (a GC pause, a
            // starved thread pool, a slow disk) it gets every tick it missed in one call, and before it takes any input,
            // so that what it promises or serves is judged by the time now (read leases rely on that) and no timer fires
            // a burst of times. At the writer's cap it ticks only with leases on, whose reads must not outlive them.
            if (takeInputs && (!driver.AtWriteCap || _options.ReadLeases))
            {
                Interlocked.Exchange(ref _pendingTicks, 0);
                DeliverDueTicks(driver);
            }

            // Drain what is ready, so that one batch (one Proposal, one fsync) covers it all. At the writer's cap the
            // inputs stay in the bounded inbox (which then drops peer messages and refuses submissions) rather than
            // piling up as output in the replica while the disk catches up.
            if (takeInputs && !driver.AtWriteCap)
            {
                var drained = 0;
                while (drained++ < _options.MaxInboxMessages && reader.TryRead(out var input))
                {
                    Apply(driver, input);
                }

                DeliverDueTicks(driver); // A long drain ages the clock; reads are judged by the time they are taken.
                var reads = 0;
                while (reads < _options.MaxInboxMessages && _readInbox.TryTake(out var read))
                {
                    reads++;
                    OnRead(driver, read);
                }

                if (reads > 0)
                {
                    _readInbox.Taken(reads);
                }

                DeliverDueTicks(driver);
            }

            driver.ProcessOutput();
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

    /// <summary>Whether a turn has something to do: durable batches to send, or (below the writer's cap, where the
    /// loop waits for the disk) input or ticks.</summary>
    private bool HasWork(ChannelReader<NodeInput> reader) =>
        !_stopping.IsCancellationRequested
        && _driver is { } driver
        && (driver.HasDurable || (!driver.AtWriteCap && (reader.TryPeek(out _) || !_readInbox.IsEmpty || Volatile.Read(ref _pendingTicks) > 0)));

    private void Apply(ReplicaDriver driver, NodeInput input)
    {
        if (input.Message is { } message)
        {
            driver.Step(message);
        }
        else if (input.Update is { } update)
        {
            OnSubmit(driver, update, input.Completion!);
        }
        else if (input.Staged is { } staged)
        {
            ApplySubmissions(driver, staged);
        }
    }

    private void OnSubmit(ReplicaDriver driver, ClientUpdate update, TaskCompletionSource<ReadOnlyMemory<byte>> completion)
    {
        var status = driver.Submit(update);
        switch (status)
        {
            case SubmitStatus.Accepted:
            case SubmitStatus.AlreadyExecuted:
            case SubmitStatus.Expired: // Answered, like an executed one, by the reply in this batch.
                if (!_submissions.TryAdd((update.ClientId, update.Timestamp), completion))
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

    /// <summary>The error of an update that was not answered with a result: a newer one of its client superseded it,
    /// its client or session expired, it skipped a session's timestamp, or the executor rejected it.</summary>
    private PaxosSubmitException NotExecuted(ClientReply reply) => reply.Status switch
    {
        ReplyStatus.Expired when ClientSession.IsSessionId(reply.ClientId) => Failure(SubmitFailure.SessionExpired, string.Create(CultureInfo.InvariantCulture,
            $"Session {reply.ClientId} is not in the client table: it expired after {_options.ClientExpirySlots} slots without an update, or it was never registered. Update {reply.Timestamp} was refused and did not execute now (if this was a retry, it may have executed earlier). Open a new session (PaxosNode.OpenSessionAsync).")),
        ReplyStatus.Expired => Failure(SubmitFailure.SessionExpired, string.Create(CultureInfo.InvariantCulture,
            $"Client {reply.ClientId}'s session expired: the cluster forgot the client after {_options.ClientExpirySlots} slots without an update from it, so it cannot tell whether timestamp {reply.Timestamp} executed before. The update was refused and did not execute now (if this was a retry, it may have executed earlier). Start a new session with a timestamp of at least {Status.SessionStartTimestamp} (ReplicaStatus.SessionStartTimestamp).")),
        ReplyStatus.OutOfOrder => Failure(SubmitFailure.OutOfOrder, string.Create(CultureInfo.InvariantCulture,
            $"Session {reply.ClientId}'s update {reply.Timestamp} skips a timestamp: the session's last executed update is not {reply.Timestamp - 1}. It was refused at slot {reply.Sequence} and did not execute; submit the session's updates one after the other, each after the previous one's answer.")),
        ReplyStatus.Rejected => new PaxosSubmitException(SubmitFailure.Rejected, LeaderHintOrNull(), string.Create(CultureInfo.InvariantCulture,
            $"The executor rejected client {reply.ClientId}'s update {reply.Timestamp} at slot {reply.Sequence} ({reply.Result.Length} error bytes in PaxosSubmitException.Error); it counts as executed, and a retry gets the same answer."))
        {
            Error = reply.Result,
        },
        _ => Failure(SubmitFailure.Superseded, $"Client {reply.ClientId} submitted a newer update before timestamp {reply.Timestamp} executed."),
    };

    /// <summary>Delivers answers on this thread: through the inline delivery when the option is on (what the
    /// continuations submit is held back to its end), else one after the other.</summary>
    private void DeliverHere(List<Completion> completions)
    {
        if (_inline is { } inline)
        {
            inline.Deliver(completions);
        }
        else
        {
            Complete(completions);
        }
    }

    /// <summary>Completes submissions' tasks with their answers, in order, on this thread (their continuations may
    /// run here).</summary>
    internal void Complete(List<Completion> completions)
    {
        foreach (var completion in completions)
        {
            if (completion.Source is PendingRead read)
            {
                read.ReleaseCancellation(); // First, so that the caller's next read can reuse the token's registration.
            }
            else if (completion.Source is TimedCompletion { Task.IsCompleted: false } timed) // Not if cancelled meanwhile.
            {
                _metrics?.SubmitAnswered(timed.StartedAt, completion.Error);
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
        _completions = FreshCompletions(completions.Count);
        ThreadPool.UnsafeQueueUserWorkItem(DeliverOnPool, (this, completions), preferLocal: false);
    }

    /// <summary>An empty list for the loop's next answers, in place of one handed off with
    /// <paramref name="handedOff"/> answers: the spare one if there is one.</summary>
    private List<Completion> FreshCompletions(int handedOff) =>
        Interlocked.Exchange(ref _spareCompletions, null) ?? new List<Completion>(Math.Min(handedOff, 1024));

    /// <summary>Keeps a delivered list of answers for reuse, emptied so that it holds on to no task or answer.</summary>
    private void Recycle(List<Completion> delivered)
    {
        if (delivered.Capacity <= MaxRecycledCompletions)
        {
            delivered.Clear();
            Interlocked.CompareExchange(ref _spareCompletions, delivered, null);
        }
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
        // too, and no delivery holds back any more.
        _inline?.Close(Fail);
        _submissions.FailAll(Fail);
        FailAllReads(reason == SubmitFailure.Faulted ? ReadFailure.Faulted : ReadFailure.Stopped, message, cause);
        DeliverCompletions();

        void Fail(TaskCompletionSource<ReadOnlyMemory<byte>>? completion)
        {
            if (completion is not null)
            {
                _completions.Add(new(completion, default, Failure(reason, message, cause)));
            }
        }
    }


    /// <summary>A copy of the counters the loop took for <see cref="GetCounters"/>, once <paramref name="Requests"/>
    /// requests had been made.</summary>
    private sealed record ServedCounters(long Requests, ReplicaCounters Counters);

    private sealed class Receiver(PaxosNode node) : ITransportReceiver
    {
        public void Receive(PaxosMessage message) => node.Post(message);
    }

    /// <summary>What the node does with the driver's news: answers, fsync metrics, and whether the loop's thread may
    /// wait for an fsync itself.</summary>
    private sealed class DriverObserver(PaxosNode node) : IReplicaDriverObserver
    {
        public void OnReplies(OutputBatch batch)
        {
            node._submissions.Answer(batch.Replies, node._completions, node._notExecutedError ??= node.NotExecuted);
            if (node._writer is null)
            {
                node.DeliverCompletions(); // Before the driver persists the batch on this thread: no need to wait for it.
            }
        }

        public void OnReads(OutputBatch batch)
        {
            node.OnReads(batch);
            if (node._writer is null)
            {
                node.DeliverCompletions();
            }
        }

        public void OnAcknowledged(OutputBatch batch, bool syncedHere)
        {
            if (syncedHere)
            {
                Volatile.Write(ref node._batchesSyncedOnLoop, node._batchesSyncedOnLoop + 1);
                node._metrics?.RecordSyncedWrite(new ReadOnlySpan<OutputBatch>(in batch));
            }
        }

        /// <summary>
        /// Whether this thread may wait for a batch's fsync itself instead of handing the batch to the writer's
        /// thread, which saves waking that thread (on a small or virtualised machine a large part of a round). Only
        /// on a non-leader, and only when nothing else waits for this thread: no input in the inbox, and none the
        /// transport could hand over next (<see cref="ITransport.HasPendingInput"/>: the rest of the datagram being
        /// delivered, or another one queued — a transport that cannot tell says there may be). Otherwise the input
        /// behind would wait a whole fsync and then miss the group commit it would have joined on the writer's
        /// thread; that split groups in two when this was tried without asking the transport. A leader keeps its
        /// writes on the writer's thread: its loop also answers clients and proposes their next updates, which must
        /// not wait for its fsync.
        /// </summary>
        /// <remarks>History, measured over UDP at 64 writers: always syncing here when the writer was idle gave
        /// 18,000 updates/s against 28,000 through the writer (7,000 with LeaderSendsAccept); on later code one writer
        /// gained 24–36% and 64 writers lost 17–30%, on followers only 64 writers halved — a receive thread blocked in
        /// an fsync split the next group commit. Asking the transport whether input waits fixed that, and once durable
        /// batches' messages left before their acknowledgement, three interleaved pairs per mode gave one writer
        /// +7/+31/+9% (default) and +12/+22/−6% (LeaderSendsAccept), 64 writers −7/+10/+16% and −7/+1/+13%
        /// (docs/performance.md).</remarks>
        public bool MaySyncHere(OutputBatch batch) =>
            node._driver!.Replica.Status.State != ReplicaState.RegularLeader
            && !node._inbox.Reader.TryPeek(out _)
            && !node._transport.HasPendingInput;
    }
}
