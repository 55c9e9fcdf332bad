using System.Numerics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Paxos.Diagnostics;
using Paxos.Messages;

namespace Paxos.Protocol;

/// <summary>
/// One replication server of Paxos for System Builders, as a pure state machine.
/// </summary>
/// <remarks>
/// <para>A replica consumes three inputs — a message from a peer (<see cref="Step"/>), one tick of logical
/// time (<see cref="Tick()"/>) and an update from a local client (<see cref="Submit"/>) — and produces
/// <see cref="OutputBatch"/>es (<see cref="TakeOutput"/>) that its host persists, acknowledges
/// (<see cref="AcknowledgePersisted"/>) and sends, in that order. It calls the <see cref="IExecutor"/> for
/// each update as <c>Local_Aru</c> advances. It never touches a clock, a socket, a file, a thread or
/// hashed-collection iteration order, so the same inputs give the same outputs, bit for bit.</para>
/// <para>It is not thread-safe: call it from one thread at a time. After every call it checks its
/// invariants; a broken one throws <see cref="PaxosInvariantException"/> and stops the replica.</para>
/// <para>The code follows the paper's structure and names; each departure names its gap (G1–G23),
/// and docs/protocol-notes.md says what each gap is and how it is closed. The partial files hold the
/// sub-protocols: leader election, the Prepare phase, global ordering, client handling and reconciliation.</para>
/// </remarks>
public sealed partial class PaxosReplica
{
    private readonly ProtocolOptions _options;
    private readonly IExecutor _executor;
    private readonly ILogger _logger;
    private readonly ReplicaId _id;
    private readonly int _clusterSize;
    private readonly int _quorum;
    private readonly ulong _selfBit;
    private readonly long _window;
    private SplitMix64 _random;

    // Block A/B: state and views (TR Fig. 2).
    private ReplicaState _state;
    private ViewNumber _lastAttempted;
    private ViewNumber _lastInstalled;

    // Block D: the history.
    private readonly GlobalHistory _history = new();
    private long _localAru;
    private long _highestOrdered;

    // Block E: timers.
    private ProgressTimer _progressTimer;
    private Timeout _vcProofTimer;
    private Timeout _aliveTimer;

    // Output and durability.
    private OutputBatch _output;
    private long _lastBatchTaken;
    private long _persistedBatch;
    private long _tick;
    private Exception? _fault;

    // Invariant bookkeeping: what was seen before this entry point.
    private ViewNumber _previousLastInstalled;
    private long _previousLocalAru;
    private long _lastExecutedSequence;

    /// <summary>Builds a replica, recovering it from <paramref name="recovered"/> when given.</summary>
    /// <param name="options">The protocol's options; validated here (<see cref="ProtocolOptionsValidator"/>). A host
    /// bound to configuration makes them with <see cref="PaxosOptions.ToProtocolOptions"/>.</param>
    /// <param name="executor">The application state machine, in its initial state: a recovering replica
    /// replays every ordered update it stored into it.</param>
    /// <param name="recovered">What the replica's storage holds, or null on first boot.</param>
    /// <param name="logger">Where protocol events go; none when null.</param>
    /// <param name="seed">Seeds the replica's random choices (which peer to catch up from).</param>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">An option is out of range.</exception>
    public PaxosReplica(ProtocolOptions options, IExecutor executor, PersistentState? recovered = null, ILogger? logger = null, ulong seed = 0)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(executor);
        ProtocolOptionsValidator.ThrowIfInvalid(options);

        _options = options;
        _executor = executor;
        _logger = logger ?? NullLogger.Instance;
        _id = new ReplicaId(options.ReplicaId);
        _clusterSize = options.ClusterSize;
        _quorum = (options.ClusterSize / 2) + 1;
        _selfBit = Bit(_id);
        _window = options.WindowSlots;
        _random = new SplitMix64(seed ^ ((ulong)(uint)options.ReplicaId << 32));
        _peerAru = new long[options.ClusterSize];
        _prepareOks = new PrepareOkProgress?[options.ClusterSize];
        _clientTable = new ClientTable(options.ClientExpirySlots);

        _progressTimer = new ProgressTimer(options.ProgressTimeoutTicks, options.MaxProgressTimeoutTicks);
        _viewChangeTimer = new Timeout(options.ViewChangeRetransmitTicks);
        _vcProofTimer = new Timeout(options.VcProofIntervalTicks);
        _prepareTimer = new Timeout(options.PrepareRetransmitTicks);
        _proposalTimer = new Timeout(options.ProposalRetransmitTicks);
        _heartbeatTimer = new Timeout(options.LeaderHeartbeatTicks);
        _updateTimer = new Timeout(Math.Max(1, options.UpdateRetransmitTicks / 4));
        _aliveTimer = new Timeout(options.AliveIntervalTicks);
        _catchUpTimeoutTimer = new Timeout(options.CatchUpTimeoutTicks);

        _output = new OutputBatch(1);
        Recover(recovered ?? PersistentState.Empty);
        StartRebuildIfNeeded(recovered ?? PersistentState.Empty);
        _vcProofTimer.Start();
        _aliveTimer.Start();
        _updateTimer.Start();

        // Read leases: a promise made before a restart is forgotten with it, so the vote waits it out.
        if (options.ReadLeases && options.ClusterSize > 1)
        {
            _voteHeldUntilTick = options.ProgressTimeoutTicks;
        }

        // TR Fig. 14 A16: every replica starts in leader election for the view after the
        // last one it installed; on first boot that is view 1.
        ShiftToLeaderElection(_lastInstalled.Next);
        _recovered = true;
        CheckInvariants();
    }

    /// <summary>This replica's id.</summary>
    public ReplicaId Id => _id;

    /// <summary>The options the replica runs with.</summary>
    public ProtocolOptions Options => _options;

    /// <summary>A read-only snapshot of the protocol state.</summary>
    public ReplicaStatus Status => new(
        _id,
        _state,
        _lastAttempted,
        _lastInstalled,
        LeaderOf(_lastAttempted),
        new SequenceNumber(_localAru),
        new SequenceNumber(_lastProposed),
        _updateQueue.Count,
        _pending.Count,
        _fault is not null,
        _rebuilding)
    {
        ExpiredThrough = _clientTable.ExpiredThrough,
        ClientTableCount = _clientTable.Count,
    };

    /// <summary>What the replica did and ignored so far.</summary>
    public ReplicaCounters Counters { get; } = new();

    /// <summary>Whether the replica stopped after a broken invariant or a failing executor.</summary>
    public bool IsFaulted => _fault is not null;

    /// <summary>The leader of a view: the replica whose id is <c>view mod N</c> (TR §5.3).</summary>
    public ReplicaId LeaderOf(ViewNumber view) => new((int)(view.Value % _clusterSize));

    /// <summary>Consumes one message from a peer. Messages that fail the paper's conflict checks, or that are
    /// malformed or from an unknown sender, are dropped and counted; a message never throws.</summary>
    /// <param name="message">The message.</param>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    /// <exception cref="PaxosInvariantException">This step broke an invariant; the replica has stopped.</exception>
    public void Step(PaxosMessage message)
    {
        ArgumentNullException.ThrowIfNull(message);
        ThrowIfFaulted();
        try
        {
            Counters.MessagesReceived++;
            if (message.Sender.Value < 0 || message.Sender.Value >= _clusterSize)
            {
                Drop(message, DropReason.UnknownSender);
            }
            else if (!ProtocolLimits.AreNumbersInRange(message))
            {
                Drop(message, DropReason.Malformed);
            }
            else
            {
                Dispatch(message);
            }

            CheckRebuildComplete();
            CheckInvariants();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>Advances logical time by one tick: timers count down and fire.</summary>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    public void Tick() => Tick(1);

    /// <summary>
    /// Advances logical time by <paramref name="ticks"/> ticks at once: every timer counts them down and fires at most
    /// once. A host whose clock ran on while it could not tick (a stall) passes the ticks it owes in one call, so the
    /// replica's time never falls behind its clock (read leases depend on it) and no timer fires a burst of times.
    /// </summary>
    /// <param name="ticks">How many ticks passed; at least 1.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="ticks"/> is below 1.</exception>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    public void Tick(int ticks)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(ticks, 1);
        ThrowIfFaulted();
        try
        {
            _tick += ticks;
            OnTick(ticks);
            CheckRebuildComplete();
            CheckInvariants();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>
    /// Takes an update from a local client (PfSB's <c>Client_Update_Handler</c>). On
    /// <see cref="SubmitStatus.Accepted"/> the replica is responsible for the update until it executes, even
    /// across restarts, and its <see cref="ClientReply"/> comes in a later batch. An update that already
    /// executed is answered from the client table at once (G13).
    /// </summary>
    /// <param name="update">The update.</param>
    /// <returns>What the replica did with it.</returns>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    public SubmitStatus Submit(ClientUpdate update)
    {
        ArgumentNullException.ThrowIfNull(update);
        if (update.IsNoOp)
        {
            throw new ArgumentException("Client updates need a positive client id; id 0 is reserved for no-ops.", nameof(update));
        }

        ThrowIfFaulted();
        try
        {
            var status = OnSubmit(update);
            CheckInvariants();
            return status;
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>
    /// Takes everything the replica wants done since the last call, as one batch (see <see cref="OutputBatch"/>
    /// for what to do with it, in which order). A leader binds the updates queued since the last batch to
    /// sequence numbers here, so that everything that arrived together shares one Proposal and one fsync.
    /// </summary>
    /// <returns>The batch; <see cref="OutputBatch.IsEmpty"/> when there is nothing to do.</returns>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    public OutputBatch TakeOutput()
    {
        ThrowIfFaulted();
        try
        {
            SendProposals();
            FlushAccepts();
            FlushForwards();
            ServeReads();
            CheckInvariants();
            if (_output.IsEmpty)
            {
                return EmptyBatch;
            }

            var batch = _output;
            _lastBatchTaken = batch.Number;
            if (_spareOutput is { } spare)
            {
                _spareOutput = null;
                spare.Reset(batch.Number + 1);
                _output = spare;
            }
            else
            {
                _output = new OutputBatch(batch.Number + 1);
            }

            return batch;
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>
    /// Tells the replica that batch <paramref name="batchNumber"/> (and every earlier one) is durable. Only
    /// then does the replica count its own acceptances in those batches towards ordering, so that no update
    /// is ordered on the strength of an acceptance a crash could still erase.
    /// </summary>
    /// <param name="batchNumber">The <see cref="OutputBatch.Number"/> of a batch taken from this replica.</param>
    /// <exception cref="ArgumentOutOfRangeException">No batch with that number was taken yet.</exception>
    public void AcknowledgePersisted(long batchNumber)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(batchNumber, _lastBatchTaken);
        ThrowIfFaulted();
        try
        {
            if (batchNumber <= _persistedBatch)
            {
                return;
            }

            _persistedBatch = batchNumber;
            CountDurableSelfAccepts();
            AdvanceAru();
            CheckRebuildComplete();
            CheckInvariants();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    /// <summary>
    /// Hands a batch back once the host is completely done with it — persisted, sent and answered — so the
    /// replica can reuse its lists instead of allocating new ones. Optional: a host that never calls it just
    /// leaves the batches to the garbage collector. The batch must not be read afterwards.
    /// </summary>
    /// <param name="batch">A batch taken from this replica.</param>
    public void ReleaseOutput(OutputBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Number > 0 && batch.Number <= _lastBatchTaken && !ReferenceEquals(batch, _output))
        {
            _spareOutput = batch;
        }
    }

    private static readonly OutputBatch EmptyBatch = new(0);

    private OutputBatch? _spareOutput;

    private void Dispatch(PaxosMessage message)
    {
        switch (message)
        {
            case ViewChange viewChange:
                OnViewChange(viewChange);
                break;
            case VcProof vcProof:
                OnVcProof(vcProof);
                break;
            case Prepare prepare:
                OnPrepare(prepare);
                break;
            case PrepareOk prepareOk:
                OnPrepareOk(prepareOk);
                break;
            case PrepareReject prepareReject:
                OnPrepareReject(prepareReject);
                break;
            case Proposal proposal:
                OnProposal(proposal);
                break;
            case Accept accept:
                OnAccept(accept);
                break;
            case GloballyOrderedUpdate ordered:
                OnGloballyOrderedUpdate(ordered);
                break;
            case ClientUpdateForward forward:
                OnClientUpdateForward(forward);
                break;
            case Alive alive:
                OnAlive(alive);
                break;
            case CatchUpRequest request:
                OnCatchUpRequest(request);
                break;
            case RebuildQuery query:
                OnRebuildQuery(query);
                break;
            case RebuildReply reply:
                OnRebuildReply(reply);
                break;
            case ReadConfirmRequest request:
                OnReadConfirmRequest(request);
                break;
            case ReadConfirm confirm:
                OnReadConfirm(confirm);
                break;
            case ReadIndexRequest request:
                OnReadIndexRequest(request);
                break;
            case ReadIndexReply reply:
                OnReadIndexReply(reply);
                break;
            case SnapshotChunk or SnapshotChunkRequest:
                // State transfer is the host's (ReplicaDriver): one that reaches the replica has no host to take it.
                Drop(message, DropReason.WrongState);
                break;
            default:
                Drop(message, DropReason.Malformed);
                break;
        }
    }

    /// <summary>One tick: first every timer counts down, then the handlers of those that fired run. A timer
    /// (re)started by a handler is therefore not counted down in the tick that started it, so every period
    /// is exactly its number of ticks.</summary>
    private void OnTick(int ticks)
    {
        var progressExpired = _progressTimer.Tick(ticks);
        var viewChangeDue = _viewChangeTimer.Tick(ticks);
        var vcProofDue = _vcProofTimer.Tick(ticks);
        var prepareDue = _prepareTimer.Tick(ticks);
        var proposalDue = _proposalTimer.Tick(ticks);
        var heartbeatDue = _heartbeatTimer.Tick(ticks);
        var updateDue = _updateTimer.Tick(ticks);
        var aliveDue = _aliveTimer.Tick(ticks);
        var catchUpDelayDue = _catchUpDelayTimer.Tick(ticks);
        var catchUpTimeoutDue = _catchUpTimeoutTimer.Tick(ticks);

        // TR Fig. 6 A: the Progress_Timer expired, so the leader is suspected.
        if (progressExpired)
        {
            ShiftToLeaderElection(_lastAttempted.Next);
        }

        if (ReleaseHeldVote())
        {
            viewChangeDue = false;
        }

        OnLeaderElectionTimers(viewChangeDue, vcProofDue);
        OnPrepareTimer(prepareDue);
        OnGlobalOrderingTimers(proposalDue, heartbeatDue);
        OnUpdateTimer(updateDue);
        OnReconciliationTimers(aliveDue, catchUpDelayDue, catchUpTimeoutDue);
        OnReadTimers();
    }

    private void Send(ReplicaId destination, PaxosMessage message) =>
        _output.AddMessage(new OutboundMessage(destination, message));

    private void Broadcast(PaxosMessage message)
    {
        if (_clusterSize > 1)
        {
            _output.AddMessage(new OutboundMessage(ReplicaId.None, message));
        }
    }

    /// <summary>Sends to all at once, before this batch is persisted: only for messages that promise nothing
    /// this batch makes durable.</summary>
    private void BroadcastImmediate(PaxosMessage message)
    {
        if (_clusterSize > 1)
        {
            _output.AddImmediateMessage(new OutboundMessage(ReplicaId.None, message));
        }
    }

    private void Drop(PaxosMessage message, DropReason reason)
    {
        Counters.CountDrop(reason);
        Log.Dropped(_logger, _id, message, message.Sender, reason);
    }

    private static ulong Bit(ReplicaId replica) => 1UL << replica.Value;

    private bool IsQuorum(ulong replicas) => BitOperations.PopCount(replicas) >= _quorum;

    private bool IsLeaderOf(ViewNumber view) => LeaderOf(view) == _id;

    private void ThrowIfFaulted()
    {
        if (_fault is not null)
        {
            throw new ReplicaFaultedException($"Replica {_id} stopped after an earlier failure: {_fault.Message}", _fault);
        }
    }

    /// <summary>Marks the replica stopped (fail-stop); used as an exception filter, so it never catches.</summary>
    private bool Fault(Exception exception)
    {
        _fault ??= exception;
        Log.Faulted(_logger, _id, exception);
        return false;
    }

    /// <summary>Rebuilds state from storage (TR Fig. 14; docs/protocol-notes.md, "Stable storage and recovery").</summary>
    private void Recover(PersistentState recovered)
    {
        _lastInstalled = recovered.LastInstalled;
        _lastAttempted = recovered.LastInstalled;
        _highestAttempted = recovered.LastAttempted > recovered.LastInstalled ? recovered.LastAttempted : recovered.LastInstalled;
        _previousLastInstalled = _lastInstalled;

        // The newest snapshot first: the executor, the client table and Local_Aru start from it, and the log's records
        // at or below its sequence number (released with it) change nothing.
        if (recovered.Snapshot is { } snapshot)
        {
            Restore(snapshot);
            Log.SnapshotRestored(_logger, _id, snapshot.State.Sequence);
        }

        foreach (var proposal in recovered.AcceptedProposals)
        {
            var updates = proposal.UpdateArray;
            for (var i = 0; i < updates.Length; i++)
            {
                ref var slot = ref _history.At(proposal.FirstSequence.Value + i);
                if (!slot.IsOrdered && slot.ProposalView < proposal.View.Value)
                {
                    slot.ProposalView = proposal.View.Value;
                    slot.Update = updates[i];
                    slot.Accepts = 0;
                }

                if (slot.ProposalView == proposal.View.Value)
                {
                    // This replica's acceptance is on disk. Peers' acceptances (the leader's included: it may
                    // have sent the Proposal before writing it) are learned again from their messages.
                    slot.Accepts |= _selfBit;
                }
            }
        }

        foreach (var ordered in recovered.OrderedSlots)
        {
            // A conflict within this replica's own log is a broken invariant, not bad input.
            Invariant(ApplyOrdered(ordered.Sequence.Value, ordered.Update) != OrderedResult.Conflict,
                $"the log orders slot {ordered.Sequence} twice with different updates");
        }

        // Replaying ordered updates rebuilds the executor's state, the client table and Last_Executed.
        AdvanceAru();
        _output = new OutputBatch(1);

        foreach (var update in recovered.PendingUpdates)
        {
            if (_clientTable.IsExecuted(update) || _clientTable.IsExpired(update, _lastExecutedSequence))
            {
                // Settled: executed, or never to execute. Whoever waited for it went with the process.
                _pending.Remove(update.ClientId);
                continue;
            }

            // Add_to_Pending_Updates re-arms the Update_Timer (TR Fig. 14): due at the first sweep.
            AddPending(update, -_options.UpdateRetransmitTicks);
        }

        // The bound limits new submissions; updates already promised before a restart are all kept.
        _pendingLimit = Math.Max(_options.MaxPendingUpdates, _pending.Count);
    }
}
