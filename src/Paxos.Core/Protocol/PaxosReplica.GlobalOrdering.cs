using System.Numerics;
using Paxos.Messages;

namespace Paxos.Protocol;

// Global ordering (TR §5.5, Figs. 9–11).
public sealed partial class PaxosReplica
{
    /// <summary>Last_Proposed: the leader's last proposed slot.</summary>
    private long _lastProposed;

    /// <summary>The highest slot a new leader found constrained (reported or ordered) when it took over; slots
    /// up to it are re-proposed, and holes among them are filled with no-ops (G7).</summary>
    private long _constrainedUpTo;

    /// <summary>The leader's Proposals not yet ordered, oldest first, for retransmission.</summary>
    private readonly Queue<InFlightProposal> _inFlight = new();

    /// <summary>This replica's acceptances waiting for their batch to be durable before they count.</summary>
    private readonly Queue<SelfAcceptance> _selfAcceptances = new();

    /// <summary>Accepts to send with the next batch, coalesced into ranges.</summary>
    private readonly List<SelfAcceptance> _acceptsToSend = [];

    /// <summary>The leader's Accepts of its own Proposals, durable since the last batch: they go out at once.</summary>
    private readonly List<SelfAcceptance> _leaderAcceptsToSend = [];

    /// <summary>The latest view whose leader's Proposals reached this replica counting as the leader's acceptance
    /// (<see cref="Proposal.ImpliesLeaderAcceptance"/>); 0 for none.</summary>
    private long _leaderAcceptanceImpliedInView;

    private Timeout _proposalTimer;
    private Timeout _heartbeatTimer;

    /// <summary>TR Fig. 9 A, Shift_to_Reg_Leader: the view is prepared; start ordering.</summary>
    private void ShiftToRegularLeader()
    {
        _state = ReplicaState.RegularLeader;
        LeaveReadView();
        _prepareTimer.Stop();
        _viewChangeTimer.Stop();
        _progressTimer.Start(); // G4
        Counters.ViewsLed++;

        // G12: clear the queue (as GO does), then re-enqueue local pending updates that no slot binds yet.
        // Updates already bound above Local_Aru are marked enqueued for this view, so a re-forwarded copy
        // is refused instead of being bound a second time.
        _updateQueue.Clear();
        _lastEnqueued.Clear();
        _lastProposed = _localAru;
        _constrainedUpTo = _history.Highest;
        MarkBoundUpdatesEnqueued();
        EnqueueUnboundPendingUpdates();

        _heartbeatTimer.Start();
        _proposalTimer.Start();
        Log.ShiftedToRegularLeader(_logger, _id, _lastInstalled, new SequenceNumber(_localAru), new SequenceNumber(_constrainedUpTo));
    }

    /// <summary>TR Fig. 9 B, Shift_to_Reg_Non_Leader: install the view and follow its leader.</summary>
    private void ShiftToRegularNonLeader()
    {
        _state = ReplicaState.RegularNonLeader;
        LeaveReadView();
        _lastInstalled = _lastAttempted;
        _output.InstalledView = _lastInstalled;
        Counters.ViewsInstalled++;
        _updateQueue.Clear();
        _viewChangeTimer.Stop();
        _prepareTimer.Stop();
        _progressTimer.Start(); // G4: armed on every install path.
        Log.ShiftedToRegularNonLeader(_logger, _id, _lastInstalled, LeaderOf(_lastInstalled));

        // Local updates wait in Pending_Updates; hand them to the new leader now rather than at the next
        // Update_Timer.
        ForwardAllPending();
    }

    private void ResetLeaderState()
    {
        _inFlight.Clear();
        _leaderAcceptsToSend.Clear();
        _heartbeatTimer.Stop();
        _proposalTimer.Stop();
        _constrainedUpTo = 0;
    }

    /// <summary>
    /// TR Fig. 11 A, Send_Proposal, as a loop (G8) that fills the window: re-propose constrained slots, fill
    /// holes among them with no-ops (G7), then bind queued updates, several per Proposal.
    /// </summary>
    private void SendProposals()
    {
        if (_state != ReplicaState.RegularLeader)
        {
            return;
        }

        while (_lastProposed - _localAru < _window)
        {
            var sequence = _lastProposed + 1;
            if (_history.Peek(sequence).IsOrdered)
            {
                _lastProposed = sequence;
                continue;
            }

            var updates = sequence <= _constrainedUpTo ? TakeConstrained(sequence) : TakeQueued(sequence);
            if (updates is null)
            {
                return;
            }

            Propose(sequence, updates);
        }
    }

    /// <summary>The constrained run from <paramref name="first"/>: each slot's reported update, or a no-op for a hole.</summary>
    private ClientUpdate[] TakeConstrained(long first)
    {
        var count = 0;
        var bytes = MessageSizes.HeaderBytes;
        var limit = Math.Min(_constrainedUpTo, _localAru + _window);
        for (var sequence = first; sequence <= limit && count < _options.MaxBatchUpdates; sequence++)
        {
            ref readonly var slot = ref _history.Peek(sequence);
            if (slot.IsOrdered)
            {
                break;
            }

            var size = MessageSizes.Update(slot.ProposalView > 0 ? slot.Update! : ClientUpdate.NoOp);
            if (count > 0 && bytes + size > _options.MaxMessageBytes)
            {
                break;
            }

            bytes += size;
            count++;
        }

        var updates = new ClientUpdate[count];
        for (var i = 0; i < count; i++)
        {
            ref readonly var slot = ref _history.Peek(first + i);
            if (slot.ProposalView > 0)
            {
                updates[i] = slot.Update!;
                Counters.ConstrainedSlotsReproposed++;
            }
            else
            {
                updates[i] = ClientUpdate.NoOp;
                Counters.HoleNoOpsProposed++;
            }
        }

        return updates;
    }

    /// <summary>Queued updates for the free slots from <paramref name="first"/>, or null when none are queued.
    /// Updates that executed meanwhile are dropped from the head of the queue.</summary>
    private ClientUpdate[]? TakeQueued(long first)
    {
        while (_updateQueue.Count > 0 && IsExecuted(_updateQueue.Peek()))
        {
            _updateQueue.Dequeue();
        }

        // Count what fits first, so the Proposal's array is allocated once at its final size.
        var room = (int)Math.Min(_options.MaxBatchUpdates, _localAru + _window - first + 1);
        var count = 0;
        var bytes = MessageSizes.HeaderBytes;
        foreach (var update in _updateQueue)
        {
            var size = MessageSizes.Update(update);
            if (count == room || (count > 0 && bytes + size > _options.MaxMessageBytes))
            {
                break;
            }

            bytes += size;
            count++;
        }

        if (count == 0)
        {
            return null;
        }

        // An update in the run may have executed meanwhile too (a duplicate binding); binding it again is
        // harmless, because execution consumes a duplicate without applying it (G12).
        var updates = new ClientUpdate[count];
        for (var i = 0; i < count; i++)
        {
            updates[i] = _updateQueue.Dequeue();
        }

        return updates;
    }

    /// <summary>TR Fig. 11 A10–A16: bind <paramref name="updates"/> from <paramref name="first"/>, apply locally,
    /// persist (the Proposal is the leader's acceptance) and send to all.</summary>
    private void Propose(long first, ClientUpdate[] updates)
    {
        CheckConstrainedValues(first, updates);
        var view = _lastInstalled.Value;
        var early = _options.LeaderSendsAccept;
        var proposal = new Proposal(_id, _lastInstalled, new SequenceNumber(first), updates, impliesLeaderAcceptance: !early);
        for (var i = 0; i < updates.Length; i++)
        {
            ref var slot = ref _history.At(first + i);
            slot.ProposalView = view;
            slot.Update = updates[i];
            slot.Accepts = 0;
        }

        _lastProposed = first + updates.Length - 1;
        _output.AddAcceptedProposal(proposal);
        _selfAcceptances.Enqueue(new SelfAcceptance(_output.Number, view, first, _lastProposed));

        // With LeaderSendsAccept the Proposal leaves at once and the leader's Accept follows once its write is
        // durable (CountDurableSelfAccepts); otherwise it leaves after the write and is the leader's acceptance.
        // Either way a leader never proposes twice for one (view, slot): after a restart it moves to a higher view.
        if (early)
        {
            BroadcastImmediate(proposal);
        }
        else
        {
            Broadcast(proposal);
        }

        PruneInFlight();
        _inFlight.Enqueue(new InFlightProposal(proposal, _tick));
        _heartbeatTimer.Start();
        Counters.ProposalsSent++;
    }

    /// <summary>Paxos's safety rule for a new leader: a slot its Prepare phase constrained is proposed again with the
    /// value reported for it (a no-op only where none was).</summary>
    private void CheckConstrainedValues(long first, ClientUpdate[] updates)
    {
        for (var i = 0; i < updates.Length && first + i <= _constrainedUpTo; i++)
        {
            ref readonly var slot = ref _history.Peek(first + i);
            Invariant(
                slot.ProposalView == 0 ? updates[i].IsNoOp : ReferenceEquals(updates[i], slot.Update) || updates[i].SameAs(slot.Update!),
                $"slot {first + i} is constrained to {(slot.ProposalView == 0 ? "a no-op" : slot.Update!.ToString())} but is proposed with {updates[i]}");
        }
    }

    /// <summary>TR Fig. 10 B: a Proposal arrived at a non-leader.</summary>
    private void OnProposal(Proposal message)
    {
        var reason = ConflictChecks.Proposal(_id, _state, _lastInstalled, message);
        var updates = message.UpdateArray;
        if (reason == DropReason.None
            && (message.Sender != LeaderOf(message.View) || updates.Length == 0 || updates.Length > 65_536
                || message.FirstSequence.Value < 1 || !AreValidUpdates(updates, allowNoOp: true)))
        {
            reason = DropReason.Malformed;
        }

        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        var first = message.FirstSequence.Value;
        var last = message.LastSequence.Value;
        NotePeerAru(message.Sender, first - 1 - _window);

        // Flow control (docs/protocol-notes.md, "Flow control"): beyond the receive window, catch up rather than accept.
        if (last > _localAru + (2 * _window))
        {
            Drop(message, DropReason.OutsideWindow);
            ScheduleCatchUp(first - 1, ReplicaId.None, immediately: false);
            return;
        }

        if (ContradictsOrdered(message, first, updates))
        {
            return;
        }

        var view = message.View.Value;
        var leaderBit = message.ImpliesLeaderAcceptance ? Bit(message.Sender) : 0UL;
        if (message.ImpliesLeaderAcceptance && view > _leaderAcceptanceImpliedInView)
        {
            _leaderAcceptanceImpliedInView = view;
        }

        var changed = false;
        for (var i = 0; i < updates.Length; i++)
        {
            ref var slot = ref _history.At(first + i);
            if (slot.IsOrdered)
            {
                continue;
            }

            if (slot.ProposalView < view)
            {
                slot.ProposalView = view;
                slot.Update = updates[i];
                slot.Accepts = 0;
                changed = true;
            }

            if (slot.ProposalView == view)
            {
                slot.Accepts |= leaderBit;
            }
        }

        // TR Fig. 10 B4: sync the accepted Proposal before its Accept leaves (the batch contract). Every copy
        // is answered, retransmissions too: Accept retransmission is receiver-driven.
        if (changed)
        {
            _output.AddAcceptedProposal(message);
        }

        _selfAcceptances.Enqueue(new SelfAcceptance(_output.Number, view, first, last));
        _acceptsToSend.Add(new SelfAcceptance(_output.Number, view, first, last));
        for (var sequence = first; sequence <= last; sequence++)
        {
            TryOrder(sequence);
        }

        AdvanceAru();
    }

    /// <summary>TR Fig. 10 C: an Accept arrived.</summary>
    private void OnAccept(Accept message)
    {
        var reason = ConflictChecks.Accept(_id, _lastInstalled, message);
        var first = message.FirstSequence.Value;
        var last = message.LastSequence.Value;
        if (reason == DropReason.None && (first < 1 || last < first || last - first > (2 * _window) + 65_536))
        {
            reason = DropReason.Malformed;
        }

        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        var view = message.View.Value;
        var senderBit = Bit(message.Sender);
        var matched = false;
        for (var sequence = first; sequence <= last; sequence++)
        {
            ref var slot = ref _history.Existing(sequence);
            if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot) || slot.ProposalView != view)
            {
                continue;
            }

            matched = true;
            if (!slot.IsOrdered)
            {
                slot.Accepts |= senderBit;
                TryOrder(sequence);
            }
        }

        if (!matched)
        {
            // TR Fig. 4 F3: an Accept before its Proposal is dropped; the leader's retransmission recovers it.
            Drop(message, DropReason.NoProposal);
            return;
        }

        AdvanceAru();
    }

    /// <summary>
    /// TR Fig. 11 B, Globally_Ordered_Ready, as G9 recommends: a slot is ordered once a majority of distinct
    /// replicas are known to have accepted its Proposal in its view — the leader (its Proposal), this replica
    /// (its durable acceptance) and the senders of Accepts.
    /// </summary>
    private void TryOrder(long sequence)
    {
        ref var slot = ref _history.At(sequence);
        if (slot.IsOrdered || slot.ProposalView == 0 || !IsQuorum(slot.Accepts))
        {
            return;
        }

        slot.IsOrdered = true;
        slot.OrderedInView = slot.ProposalView;
        Counters.SlotsOrderedByAccepts++;
        if (sequence > _highestOrdered)
        {
            _highestOrdered = sequence;
        }
    }

    /// <summary>TR Fig. 5 D, the Proposal update rule: a higher view replaces a lower one and clears its Accepts;
    /// an ordered slot never changes.</summary>
    private void ApplyProposal(long sequence, long view, ClientUpdate update)
    {
        ref var slot = ref _history.At(sequence);
        if (slot.IsOrdered || slot.ProposalView >= view)
        {
            return;
        }

        slot.ProposalView = view;
        slot.Update = update;
        slot.Accepts = 0;
    }

    /// <summary>Whether the Proposal binds a slot this replica holds ordered to another update. Such a Proposal comes
    /// from the leader of an older view that has not heard of the choice (or from a bug): accepting it cannot help,
    /// and an Accept for the whole range would lend this replica's name to a binding it knows to be wrong, so the
    /// Proposal is dropped and counted as a conflicting order.</summary>
    private bool ContradictsOrdered(Proposal message, long first, ClientUpdate[] updates)
    {
        for (var i = 0; i < updates.Length; i++)
        {
            ref readonly var slot = ref _history.Peek(first + i);
            if (slot.IsOrdered && slot.Update is { } ordered && !ordered.SameAs(updates[i])) // A released slot holds none.
            {
                Drop(message, DropReason.ConflictingOrder);
                return true;
            }
        }

        return false;
    }

    /// <summary>TR Fig. 5 F, the Globally_Ordered_Update rule: store it unless the slot is ordered already.
    /// A different update for an ordered slot is reported as <see cref="OrderedResult.Conflict"/>: in the
    /// crash-fault model only a bug or a forged message can cause it, and the caller decides how loud to be.</summary>
    private OrderedResult ApplyOrdered(long sequence, ClientUpdate update)
    {
        if (sequence <= _history.Floor)
        {
            return OrderedResult.Known; // Executed and covered by a snapshot: nothing to learn.
        }

        ref var slot = ref _history.At(sequence);
        if (slot.IsOrdered)
        {
            return slot.Update!.SameAs(update) ? OrderedResult.Known : OrderedResult.Conflict;
        }

        slot.IsOrdered = true;
        slot.Update = update;
        slot.OrderedInView = 0;
        if (sequence > _highestOrdered)
        {
            _highestOrdered = sequence;
        }

        return OrderedResult.New;
    }

    private enum OrderedResult
    {
        New,
        Known,
        Conflict,
    }

    /// <summary>
    /// TR Fig. 10 D, Advance_Aru: while the next slot is ordered, advance Local_Aru and execute that slot.
    /// Execution follows Local_Aru strictly, never the moment of ordering (G11).
    /// </summary>
    private void AdvanceAru()
    {
        while (true)
        {
            ref readonly var slot = ref _history.Peek(_localAru + 1);
            if (!slot.IsOrdered)
            {
                return;
            }

            _localAru++;
            Execute(_localAru, slot.Update!, slot.OrderedInView);

            // A leader can learn slots it never proposed (catch-up in a view that others left); it must
            // not propose them again.
            if (_lastProposed < _localAru)
            {
                _lastProposed = _localAru;
            }

            MaybeTakeSnapshot();
        }
    }

    /// <summary>TR Fig. 10 D, upon executing an update; with the execution-time duplicate check (G12), the
    /// replicated client table (G13) and progress counted only for orderings in the installed view (G23).</summary>
    private void Execute(long sequence, ClientUpdate update, long orderedInView)
    {
        _lastExecutedSequence = sequence;
        _output.AddOrderedSlot(new OrderedSlot(new SequenceNumber(sequence), update));
        ExpireClients(sequence);
        if (update.IsNoOp)
        {
            Counters.NoOpsExecuted++;
        }
        else if (IsExecuted(update))
        {
            Counters.DuplicatesSuppressed++;
            Log.DuplicateSuppressed(_logger, _id, update, new SequenceNumber(sequence));
            ForgetEnqueued(update);
        }
        else if (_clientTable.IsExpired(update, executedThrough: long.MaxValue))
        {
            // The table forgot the client, so this may be a retry of an update that executed: refused on every
            // replica at this same slot, and the slot is consumed (docs/protocol-notes.md, "Client table bound and expiry").
            // A session not in the table expired or never was: refused the same way ("Client sessions").
            Counters.ExpiredUpdatesRefused++;
            Log.ExpiredUpdateRefused(_logger, _id, update, new SequenceNumber(sequence), _clientTable.ExpiredThrough);
            ForgetEnqueued(update);
            AnswerPendingRefused(update, sequence, ReplyStatus.Expired);
        }
        else if (_clientTable.IsOutOfOrder(update))
        {
            // A session's update that skips a timestamp: refused everywhere at this slot, the table unchanged.
            Counters.OutOfOrderUpdatesRefused++;
            Log.OutOfOrderUpdateRefused(_logger, _id, update, new SequenceNumber(sequence));
            ForgetEnqueued(update);
            AnswerPendingRefused(update, sequence, ReplyStatus.OutOfOrder);
        }
        else if (ClientSession.IsRegistration(update.ClientId))
        {
            RegisterSession(sequence, update);
        }
        else
        {
            ExecuteClientUpdate(sequence, update);
        }

        // G23: only an ordering made in the installed view shows that the view works.
        if (orderedInView != 0 && orderedInView == _lastInstalled.Value && _state != ReplicaState.LeaderElection)
        {
            _progressTimer.ResetBackOff();
            _progressTimer.Start();
        }
    }

    /// <summary>Runs the executor on a client's update and records its reply — or its deterministic rejection
    /// (<see cref="UpdateRejectedException"/>), which counts as executed. Any other exception escapes: fail-stop.</summary>
    private void ExecuteClientUpdate(long sequence, ClientUpdate update)
    {
        var ordered = new OrderedUpdate(new SequenceNumber(sequence), update.ClientId, update.Timestamp, update.Origin, update.Payload);
        ReadOnlyMemory<byte> result;
        var rejected = false;
        try
        {
            result = _executor.Execute(in ordered);
        }
        catch (UpdateRejectedException rejection)
        {
            result = rejection.Error;
            rejected = true;
            Counters.UpdatesRejected++;
            Log.UpdateRejected(_logger, _id, update, new SequenceNumber(sequence), rejection.Error.Length, rejection.Message);
        }

        _clientTable.Record(update.ClientId, update.Timestamp, sequence, result, rejected);
        Counters.UpdatesExecuted++;
        ForgetEnqueued(update);
        AnswerPending(update.ClientId);
    }

    /// <summary>Executes a session registration (never seen by the executor): the nonce enters the table with the new
    /// session's id as its reply, so a retry with the same nonce is answered with the same session, and the session —
    /// 2^62 | this slot, the same on every replica — enters it at timestamp 0, ready for its update 1.</summary>
    private void RegisterSession(long sequence, ClientUpdate registration)
    {
        var session = ClientSession.SessionAt(sequence);
        _clientTable.Record(registration.ClientId, registration.Timestamp, sequence, ClientSession.RegistrationReply(session));
        _clientTable.Record(session, 0, sequence, ReadOnlyMemory<byte>.Empty);
        Counters.SessionsRegistered++;
        Log.SessionRegistered(_logger, _id, session.Value, new SequenceNumber(sequence));
        ForgetEnqueued(registration);
        AnswerPending(registration.ClientId);
    }

    /// <summary>Forgets, before slot <paramref name="sequence"/> executes, every client whose last update executed
    /// <see cref="ProtocolOptions.ClientExpirySlots"/> or more slots before it: a function of the slot alone, so every
    /// replica forgets the same clients at the same slot.</summary>
    private void ExpireClients(long sequence)
    {
        var forgotten = _clientTable.ExpireBefore(sequence);
        if (forgotten > 0)
        {
            Counters.ClientsExpired += forgotten;
            Log.ClientsExpired(_logger, _id, forgotten, new SequenceNumber(sequence), _clientTable.ExpiredThrough);
        }
    }

    /// <summary>Counts this replica's acceptances whose batches are now durable.</summary>
    private void CountDurableSelfAccepts()
    {
        while (_selfAcceptances.Count > 0 && _selfAcceptances.Peek().Batch <= _persistedBatch)
        {
            var acceptance = _selfAcceptances.Dequeue();
            for (var sequence = acceptance.First; sequence <= acceptance.Last; sequence++)
            {
                ref var slot = ref _history.Existing(sequence);
                if (System.Runtime.CompilerServices.Unsafe.IsNullRef(ref slot) || slot.IsOrdered || slot.ProposalView != acceptance.View)
                {
                    continue;
                }

                slot.Accepts |= _selfBit;
                TryOrder(sequence);
            }

            // The leader's explicit Accept (LeaderSendsAccept): its write is durable now.
            if (_options.LeaderSendsAccept && _state == ReplicaState.RegularLeader && acceptance.View == _lastInstalled.Value)
            {
                _leaderAcceptsToSend.Add(acceptance);
            }
        }
    }

    /// <summary>Sends this batch's Accepts to all, one message per contiguous range of one view: a non-leader's
    /// after this batch is durable, the leader's (already durable) at once.</summary>
    private void FlushAccepts()
    {
        FlushAccepts(_acceptsToSend, immediate: false);
        FlushAccepts(_leaderAcceptsToSend, immediate: true);
    }

    private void FlushAccepts(List<SelfAcceptance> ranges, bool immediate)
    {
        if (ranges.Count == 0)
        {
            return;
        }

        var current = ranges[0];
        for (var i = 1; i < ranges.Count; i++)
        {
            var next = ranges[i];
            if (next.View == current.View && next.First <= current.Last + 1 && next.Last >= current.First - 1)
            {
                current = current with { First = Math.Min(current.First, next.First), Last = Math.Max(current.Last, next.Last) };
                continue;
            }

            SendAccept(current, immediate);
            current = next;
        }

        SendAccept(current, immediate);
        ranges.Clear();
    }

    private void SendAccept(SelfAcceptance range, bool immediate)
    {
        var view = new ViewNumber(range.View);
        var accept = new Accept(_id, view, new SequenceNumber(range.First), new SequenceNumber(range.Last));
        if (immediate)
        {
            BroadcastImmediate(accept);
        }
        else if (OnlyLeaderNeedsAccept(view))
        {
            Send(LeaderOf(view), accept);
        }
        else
        {
            Broadcast(accept);
        }
    }

    /// <summary>
    /// Whether this non-leader's Accept for <paramref name="view"/> is of use to its leader alone: when a quorum is
    /// two (clusters of two or three) and the view's Proposals count as the leader's acceptance, every other
    /// non-leader orders with the Proposal and its own durable acceptance, and an Accept of ours would only cost
    /// it a datagram (a third of a three-replica cluster's traffic per update). The leader still hears every
    /// Accept: it orders by them, retransmits by them and answers its clients. With a larger quorum, or under
    /// <see cref="ProtocolOptions.LeaderSendsAccept"/> (whose Proposals do not count), Accepts go to all (TR Fig. 4).
    /// </summary>
    private bool OnlyLeaderNeedsAccept(ViewNumber view) =>
        _quorum <= 2 && view.Value == _leaderAcceptanceImpliedInView && LeaderOf(view) != _id;

    private void OnGlobalOrderingTimers(bool proposalDue, bool heartbeatDue)
    {
        if (_state != ReplicaState.RegularLeader)
        {
            return;
        }

        PruneInFlight();
        if (proposalDue)
        {
            RetransmitProposals();
            _proposalTimer.Start();
        }

        // G6: an idle leader orders a no-op, so that every replica sees progress and nobody suspects it. Not while
        // constrained slots wait to be proposed again: a leader that was just prepared (in this very tick, with one
        // replica, when the old view's heartbeat was due too) has Last_Proposed back at Local_Aru, and a no-op there
        // would replace a value its Prepare phase must carry over.
        if (heartbeatDue)
        {
            if (_lastProposed == _localAru && _lastProposed >= _constrainedUpTo && _updateQueue.Count == 0)
            {
                Counters.HeartbeatNoOpsProposed++;
                Propose(_lastProposed + 1, [ClientUpdate.NoOp]);
            }

            _heartbeatTimer.Start();
        }
    }

    /// <summary>Forgets in-flight Proposals whose slots are all executed.</summary>
    private void PruneInFlight()
    {
        while (_inFlight.Count > 0 && _inFlight.Peek().Proposal.LastSequence.Value <= _localAru)
        {
            var done = _inFlight.Dequeue();
            if (done.Retransmitted)
            {
                Counters.ProposalsOrderedAfterRetransmission++;
            }
        }
    }

    /// <summary>TR §5.9: re-send each Proposal not yet ordered, to the replicas not known to have accepted it.</summary>
    private void RetransmitProposals()
    {
        foreach (var inFlight in _inFlight)
        {
            if (_tick - inFlight.SentTick < _options.ProposalRetransmitTicks)
            {
                continue;
            }

            var proposal = inFlight.Proposal;
            var missing = MissingAcceptors(proposal);
            if (missing == 0)
            {
                continue;
            }

            // A Proposal that counts as the leader's acceptance first leaves once the leader's write of it is
            // durable (in its batch's Messages); until then it was never sent, and a retransmission — which leaves
            // at once — would be that promise made early. A slow fsync, or one queued behind others, can outlast
            // ProposalRetransmitTicks.
            if (proposal.ImpliesLeaderAcceptance && !LeaderAcceptanceIsDurable(proposal))
            {
                continue;
            }

            inFlight.SentTick = _tick;
            inFlight.Retransmitted = true;
            Counters.ProposalsRetransmitted++;

            // A retransmission now promises nothing new, so it leaves at once. A peer that accepted may still lack
            // the leader's explicit Accept: re-send that too, once the leader's own write is durable.
            if (!proposal.ImpliesLeaderAcceptance && LeaderAcceptanceIsDurable(proposal))
            {
                SendAccept(new SelfAcceptance(0, proposal.View.Value, proposal.FirstSequence.Value, proposal.LastSequence.Value), immediate: true);
            }

            if (BitOperations.PopCount(missing) == _clusterSize - 1)
            {
                BroadcastImmediate(proposal);
                continue;
            }

            for (var replica = 0; replica < _clusterSize; replica++)
            {
                if ((missing & (1UL << replica)) != 0)
                {
                    _output.AddImmediateMessage(new OutboundMessage(new ReplicaId(replica), proposal));
                }
            }
        }
    }

    /// <summary>Whether this leader's own acceptance of every unordered slot of the Proposal is durable.</summary>
    private bool LeaderAcceptanceIsDurable(Proposal proposal)
    {
        for (var sequence = proposal.FirstSequence.Value; sequence <= proposal.LastSequence.Value; sequence++)
        {
            ref readonly var slot = ref _history.Peek(sequence);
            if (!slot.IsOrdered && (slot.ProposalView != proposal.View.Value || (slot.Accepts & _selfBit) == 0))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The other replicas not known to have accepted every unordered slot of the Proposal.</summary>
    private ulong MissingAcceptors(Proposal proposal)
    {
        ulong missing = 0;
        var everyone = (_clusterSize == 64 ? ulong.MaxValue : (1UL << _clusterSize) - 1) & ~_selfBit;
        for (var sequence = proposal.FirstSequence.Value; sequence <= proposal.LastSequence.Value; sequence++)
        {
            ref readonly var slot = ref _history.Peek(sequence);
            if (!slot.IsOrdered && slot.ProposalView == proposal.View.Value)
            {
                missing |= everyone & ~slot.Accepts;
            }
        }

        return missing;
    }

    /// <summary>An acceptance by this replica (or, as a range, an Accept to send) of (view, first..last).</summary>
    private readonly record struct SelfAcceptance(long Batch, long View, long First, long Last);

    private sealed class InFlightProposal(Proposal proposal, long sentTick)
    {
        public Proposal Proposal { get; } = proposal;

        public long SentTick { get; set; } = sentTick;

        public bool Retransmitted { get; set; }
    }
}
