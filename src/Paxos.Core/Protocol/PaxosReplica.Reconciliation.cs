
using Paxos.Messages;

namespace Paxos.Protocol;

// Reconciliation: catching up a lagging replica (TR §5.6). The TR gives only prose (G1 in
// docs/protocol-notes.md); this design uses the triggers of the authors' C implementation (PSB-C):
// replicas advertise Local_Aru in Alive messages (anti-entropy), and a replica that is behind pulls the
// ordered updates it misses from one peer at a time, a bounded range per request, switching peers when
// one does not answer.
public sealed partial class PaxosReplica
{
    /// <summary>The highest Local_Aru each peer is known to have reached.</summary>
    private readonly long[] _peerAru;

    /// <summary>The slot this replica wants to reach; 0 when it is not behind.</summary>
    private long _catchUpTarget;

    /// <summary>A peer known to have the target, to ask first.</summary>
    private ReplicaId _catchUpPreferredPeer = ReplicaId.None;

    /// <summary>Runs while a catch-up waits to start (anti-entropy delay, or a back-off after refusals).</summary>
    private Timeout _catchUpDelayTimer;

    /// <summary>The peer asked by the outstanding request, or <see cref="ReplicaId.None"/>.</summary>
    private ReplicaId _catchUpPeer = ReplicaId.None;

    /// <summary>The first and last slot of the outstanding request.</summary>
    private long _catchUpRequestedFrom;

    private long _catchUpRequestedTo;

    /// <summary>Runs while a request is outstanding; on expiry the request is given up.</summary>
    private Timeout _catchUpTimeoutTimer;

    /// <summary>Peers that failed to serve the current target, one bit each.</summary>
    private ulong _catchUpTried;

    /// <summary>Local_Aru when the stuck-aru check last looked, and how long it has not moved while a
    /// higher slot is ordered (TR §5.6 trigger 2: an out-of-order ordering).</summary>
    private long _stuckAru;

    private long _stuckTicks;

    /// <summary>Anti-entropy: a peer advertised its Local_Aru.</summary>
    private void OnAlive(Alive message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        NotePeerAru(message.Sender, message.LocalAru.Value);
        if (message.LocalAru.Value > _localAru)
        {
            ScheduleCatchUp(message.LocalAru.Value, message.Sender, immediately: false);
        }
    }

    private void NotePeerAru(ReplicaId peer, long aru)
    {
        if (aru > _peerAru[peer.Value])
        {
            _peerAru[peer.Value] = aru;
        }
    }

    /// <summary>Notes that slots up to <paramref name="target"/> are ordered somewhere and starts catching up,
    /// after <see cref="ProtocolOptions.CatchUpDelayTicks"/> unless <paramref name="immediately"/>.</summary>
    private void ScheduleCatchUp(long target, ReplicaId preferredPeer, bool immediately)
    {
        if (target <= _localAru)
        {
            return;
        }

        if (target > _catchUpTarget)
        {
            _catchUpTarget = target;
        }

        if (!preferredPeer.IsNone && preferredPeer != _id)
        {
            _catchUpPreferredPeer = preferredPeer;
        }

        if (!_catchUpPeer.IsNone)
        {
            return; // A request is out; its answer leads to the next one.
        }

        if (immediately || _options.CatchUpDelayTicks == 0)
        {
            RequestCatchUp();
        }
        else if (!_catchUpDelayTimer.IsRunning)
        {
            _catchUpDelayTimer.DurationTicks = _options.CatchUpDelayTicks;
            _catchUpDelayTimer.Start();
        }
    }

    /// <summary>Asks one peer for the next bounded range of ordered updates.</summary>
    private void RequestCatchUp()
    {
        _catchUpDelayTimer.Stop();
        if (_catchUpTarget <= _localAru || _clusterSize == 1)
        {
            FinishCatchUp();
            return;
        }

        var peer = ChooseCatchUpPeer();
        if (peer.IsNone)
        {
            // Every peer failed to serve the target; wait a timeout before trying them all again, rather
            // than asking in a loop.
            _catchUpTried = 0;
            _catchUpDelayTimer.DurationTicks = _options.CatchUpTimeoutTicks;
            _catchUpDelayTimer.Start();
            return;
        }

        var from = _localAru + 1;
        _catchUpRequestedFrom = from;
        _catchUpRequestedTo = Math.Min(_catchUpTarget, _localAru + _options.CatchUpSlotsPerRequest);
        _catchUpPeer = peer;
        _catchUpTimeoutTimer.Start();
        Counters.CatchUpRequestsSent++;
        Log.CatchUpRequested(_logger, _id, new SequenceNumber(from), new SequenceNumber(_catchUpRequestedTo), peer);
        Send(peer, new CatchUpRequest(_id, new SequenceNumber(from), new SequenceNumber(_catchUpRequestedTo)));
    }

    /// <summary>The preferred peer if it has not failed, else a random peer known to be far enough ahead,
    /// else any random peer that has not failed (everyone is eligible again once all have failed).</summary>
    private ReplicaId ChooseCatchUpPeer()
    {
        var everyone = (_clusterSize == 64 ? ulong.MaxValue : (1UL << _clusterSize) - 1) & ~_selfBit;
        if ((_catchUpTried & everyone) == everyone)
        {
            return ReplicaId.None;
        }

        if (!_catchUpPreferredPeer.IsNone && (_catchUpTried & Bit(_catchUpPreferredPeer)) == 0)
        {
            return _catchUpPreferredPeer;
        }

        var ahead = PickRandom(everyone & ~_catchUpTried, mustBeAhead: true);
        return ahead.IsNone ? PickRandom(everyone & ~_catchUpTried, mustBeAhead: false) : ahead;
    }

    private ReplicaId PickRandom(ulong candidates, bool mustBeAhead)
    {
        var count = 0;
        Span<int> chosen = stackalloc int[_clusterSize];
        for (var replica = 0; replica < _clusterSize; replica++)
        {
            if ((candidates & (1UL << replica)) != 0 && (!mustBeAhead || _peerAru[replica] > _localAru))
            {
                chosen[count++] = replica;
            }
        }

        return count == 0 ? ReplicaId.None : new ReplicaId(chosen[_random.NextInt(count)]);
    }

    private void FinishCatchUp()
    {
        _catchUpPeer = ReplicaId.None;
        _catchUpTarget = 0;
        _catchUpTried = 0;
        _catchUpDelayTimer.Stop();
        _catchUpTimeoutTimer.Stop();
        _catchUpPreferredPeer = ReplicaId.None;
    }

    /// <summary>Serves a peer's catch-up request from this replica's ordered prefix.</summary>
    private void OnCatchUpRequest(CatchUpRequest message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        var from = message.FromSequence.Value;
        var requestedTo = message.ToSequence.Value;
        if (from < 1 || requestedTo < from)
        {
            Drop(message, DropReason.Malformed);
            return;
        }

        if (from <= _history.Floor)
        {
            // Released: only a snapshot can bring the requester past them. The host offers this replica's newest one,
            // and says nothing else, so the requester takes the snapshot or asks someone else.
            Counters.SnapshotsOffered++;
            _output.AddSnapshotOffer(message.Sender);
            return;
        }

        var to = Math.Min(Math.Min(requestedTo, _localAru), from + _options.CatchUpSlotsPerRequest - 1);
        if (to < from)
        {
            // Nothing to give: say so at once, so the requester asks someone else.
            Send(message.Sender, new GloballyOrderedUpdate(_id, message.FromSequence, []));
            return;
        }

        Counters.CatchUpRequestsServed++;
        var start = from;
        var bytes = MessageSizes.HeaderBytes;
        for (var sequence = from; sequence <= to; sequence++)
        {
            var size = MessageSizes.Update(_history.Peek(sequence).Update!);
            if (sequence > start && bytes + size > _options.MaxMessageBytes)
            {
                SendOrdered(message.Sender, start, sequence - 1);
                start = sequence;
                bytes = MessageSizes.HeaderBytes;
            }

            bytes += size;
        }

        SendOrdered(message.Sender, start, to);
    }

    private void SendOrdered(ReplicaId destination, long first, long last)
    {
        var updates = new ClientUpdate[last - first + 1];
        for (var i = 0; i < updates.Length; i++)
        {
            updates[i] = _history.Peek(first + i).Update!;
        }

        Send(destination, new GloballyOrderedUpdate(_id, new SequenceNumber(first), updates));
    }

    /// <summary>TR Fig. 5 F: ordered updates from a peer. No conflict check applies: an ordered binding is
    /// final, so it is safe in any state and any view.</summary>
    private void OnGloballyOrderedUpdate(GloballyOrderedUpdate message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        var updates = message.UpdateArray;
        var first = message.FirstSequence.Value;
        if (first < 1 || updates.Length > 65_536 || !AreValidUpdates(updates, allowNoOp: true))
        {
            Drop(message, DropReason.Malformed);
            return;
        }

        var fromCatchUpPeer = message.Sender == _catchUpPeer;
        if (updates.Length == 0)
        {
            // Only the answer to the outstanding request counts; a stale or duplicated refusal does not.
            if (fromCatchUpPeer && first == _catchUpRequestedFrom)
            {
                // The peer cannot serve this range; try another one now.
                _catchUpTried |= Bit(message.Sender);
                _catchUpPeer = ReplicaId.None;
                RequestCatchUp();
            }

            return;
        }

        // Memory stays bounded: slots far beyond what this replica could have asked for are ignored.
        var limit = _localAru + (4 * _window) + _options.CatchUpSlotsPerRequest;
        for (var i = 0; i < updates.Length; i++)
        {
            var sequence = first + i;
            if (sequence > _localAru && sequence <= limit)
            {
                CountOrdered(ApplyOrdered(sequence, updates[i]), sequence, updates[i], message);
            }
        }

        NotePeerAru(message.Sender, first + updates.Length - 1);
        AdvanceAru();

        if (fromCatchUpPeer)
        {
            _catchUpTimeoutTimer.Start();
            if (_localAru >= _catchUpRequestedTo)
            {
                // The answer arrived whole: ask for the next range, or stop.
                _catchUpPeer = ReplicaId.None;
                RequestCatchUp();
            }
        }
    }

    /// <summary>Counts a slot learned ordered from a peer, or drops and reports a conflicting binding.</summary>
    private void CountOrdered(OrderedResult result, long sequence, ClientUpdate update, PaxosMessage message)
    {
        if (result == OrderedResult.New)
        {
            Counters.SlotsLearnedOrdered++;
        }
        else if (result == OrderedResult.Conflict)
        {
            Counters.CountDrop(DropReason.ConflictingOrder);
            Log.ConflictingOrder(_logger, _id, new SequenceNumber(sequence), _history.Peek(sequence).Update!, update, message.Sender);
        }
    }

    private void OnReconciliationTimers(bool aliveDue, bool catchUpDelayDue, bool catchUpTimeoutDue)
    {
        if (aliveDue)
        {
            Broadcast(new Alive(_id, new SequenceNumber(_localAru), _lastInstalled));
            RepeatRebuildQuery();
            _aliveTimer.Start();
        }

        if (_catchUpTarget != 0 && _catchUpTarget <= _localAru)
        {
            FinishCatchUp(); // Caught up through normal ordering.
        }
        else if (catchUpTimeoutDue && !_catchUpPeer.IsNone)
        {
            _catchUpTried |= Bit(_catchUpPeer);
            _catchUpPeer = ReplicaId.None;
            RequestCatchUp();
        }
        else if (catchUpDelayDue && _catchUpPeer.IsNone)
        {
            RequestCatchUp();
        }

        DetectStuckAru();
    }

    /// <summary>TR §5.6 trigger 2: a slot above Local_Aru is ordered but Local_Aru has not moved for a while,
    /// so a hole below it was probably ordered elsewhere; fetch it.</summary>
    private void DetectStuckAru()
    {
        if (_highestOrdered <= _localAru || _localAru != _stuckAru)
        {
            _stuckAru = _localAru;
            _stuckTicks = 0;
            return;
        }

        if (++_stuckTicks > _options.CatchUpDelayTicks + _options.ProposalRetransmitTicks)
        {
            _stuckTicks = 0;
            ScheduleCatchUp(_highestOrdered, ReplicaId.None, immediately: true);
        }
    }
}
