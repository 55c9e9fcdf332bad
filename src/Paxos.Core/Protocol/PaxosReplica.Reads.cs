using Paxos.Messages;

namespace Paxos.Protocol;

// Linearizable reads by read index (docs/protocol-notes.md, "Linearizable reads"). Not part of PfSB: the paper
// orders reads as updates. The regular leader of view v records, for each read, the highest slot it knows may be
// ordered (its read index), then asks its peers whether they still follow it in v; once a majority (itself included)
// answers a round that started after the read was registered, no later view can have ordered anything before the read
// began, so every update acknowledged by then lies at or below the index. The read is served once the replica that
// serves it has executed through the index. A non-leader asks the leader for the index and serves it itself.
//
// Read leases (off by default): a peer's confirmation also carries a promise not to vote for a later view for a number
// of its ticks. While promises from a majority (the leader included) run, no later view can be installed, so the leader
// serves reads, and answers peers' index requests, without a round (docs/protocol-notes.md, "Read leases").
public sealed partial class PaxosReplica
{
    /// <summary>The local reads not yet served or failed, oldest first.</summary>
    private readonly List<LocalRead> _reads = [];

    /// <summary>At the leader: peers' read-index requests waiting for a confirmation round.</summary>
    private readonly List<RemoteRead> _remoteReads = [];

    /// <summary>The view the confirmation rounds below belong to; rounds start again at 1 in each view led.</summary>
    private long _readRoundView;

    /// <summary>The last confirmation round started (0 for none); at most one is in flight.</summary>
    private long _readRound;

    /// <summary>The highest confirmation round a majority answered.</summary>
    private long _readRoundConfirmed;

    /// <summary>Who answered the round in flight (the leader's own bit included).</summary>
    private ulong _readConfirms;

    /// <summary>When the round in flight was last (re)sent.</summary>
    private long _readRoundSentTick;

    /// <summary>Whether a read joined the next round while one was in flight.</summary>
    private bool _readRoundWanted;

    /// <summary>When the round in flight (or the last one) was first sent: a promise in an answer to it is counted from
    /// here, which is no later than the answer.</summary>
    private long _readRoundStartTick;

    /// <summary>At the leader with read leases, per replica: the tick before which that peer's promise surely holds, on
    /// this replica's clock (0 for none).</summary>
    private long[]? _leaseUntil;

    /// <summary>The tick before which promises from a majority, the leader's own included, surely hold (0 for none).</summary>
    private long _leaseEnd;

    /// <summary>When a read last came that a lease could serve: the leader renews its lease only while reads come.</summary>
    private long _lastLeaseReadTick = long.MinValue / 4;

    /// <summary>Whether a read was confirmed or its view left since the last look.</summary>
    private bool _readsChanged;

    /// <summary>Local_Aru at the last look: a read may also become ready because execution advanced.</summary>
    private long _readsLookedAtAru;

    private bool ReadRoundInFlight => _readRound > _readRoundConfirmed;

    private int PendingReadCount => _reads.Count + _remoteReads.Count;

    /// <summary>
    /// Takes a linearizable read from a local client. The read is answered in a later batch: listed in
    /// <see cref="OutputBatch.ReadsReady"/> once the replica has executed every update acknowledged before this call (the
    /// host then runs the query against the executor), or in <see cref="OutputBatch.ReadsFailed"/> with the reason.
    /// </summary>
    /// <param name="read">The host's id for the read, unique among this replica's pending reads.</param>
    /// <exception cref="ReplicaFaultedException">The replica stopped earlier.</exception>
    public void RequestRead(ReadRequestId read)
    {
        ThrowIfFaulted();
        try
        {
            OnRequestRead(read);
            CheckInvariants();
        }
        catch (Exception exception) when (Fault(exception))
        {
            throw;
        }
    }

    private void OnRequestRead(ReadRequestId read)
    {
        Counters.ReadsRequested++;
        if (PendingReadCount >= _options.MaxPendingReads)
        {
            FailRead(read, ReadFailure.Overloaded);
            return;
        }

        var view = _lastInstalled.Value;
        var deadline = _tick + _options.ReadTimeoutTicks;
        if (_rebuilding || (_state != ReplicaState.RegularLeader && _state != ReplicaState.RegularNonLeader))
        {
            FailRead(read, ReadFailure.LeaderUnknown);
        }
        else if (_state == ReplicaState.RegularLeader)
        {
            _lastLeaseReadTick = _tick;
            if (LeaseHeld)
            {
                Counters.ReadsUnderLease++;
                _reads.Add(new LocalRead(read, view, ReadIndex(), 0, deadline, _tick) { ByLease = true });
                _readsChanged = true;
                return;
            }

            var round = JoinReadRound();
            _reads.Add(new LocalRead(read, view, ReadIndex(), round, deadline, _tick));
            CheckReadRoundConfirmed();
        }
        else
        {
            _reads.Add(new LocalRead(read, view, -1, 0, deadline, _tick));
            Counters.ReadIndexRequestsSent++;
            SendImmediate(LeaderOf(_lastInstalled), new ReadIndexRequest(_id, _lastInstalled, read.Value));
        }
    }

    /// <summary>The read index: the highest slot the leader knows may be ordered — proposed by it, constrained by the
    /// Prepare phase, or learned ordered — and at least what it executed.</summary>
    private long ReadIndex() => Math.Max(Math.Max(_lastProposed, _history.Highest), Math.Max(_localAru, _highestOrdered));

    /// <summary>Puts a read into a confirmation round that starts after it: a new round when none is in flight, else the
    /// next one, which starts when the one in flight ends (reads arriving meanwhile share it).</summary>
    private long JoinReadRound()
    {
        if (_readRoundView != _lastInstalled.Value)
        {
            _readRoundView = _lastInstalled.Value;
            _readRound = 0;
            _readRoundConfirmed = 0;
            _readRoundWanted = false;
            ForgetLeases();
        }

        if (ReadRoundInFlight)
        {
            _readRoundWanted = true;
            return _readRound + 1;
        }

        StartReadRound();
        return _readRound;
    }

    private void StartReadRound()
    {
        _readRound++;
        _readRoundWanted = false;
        _readConfirms = _selfBit;
        _readRoundSentTick = _tick;
        _readRoundStartTick = _tick;
        Counters.ReadRoundsStarted++;
        BroadcastImmediate(new ReadConfirmRequest(_id, _lastInstalled, _readRound));
    }

    /// <summary>A peer asks whether this replica still follows the sender in the view named: it answers only when it has
    /// installed that very view and follows its leader, so it has sent no Prepare_OK for any later view.</summary>
    private void OnReadConfirmRequest(ReadConfirmRequest message)
    {
        if (message.View != _lastInstalled || _state != ReplicaState.RegularNonLeader || _rebuilding)
        {
            Drop(message, message.View < _lastInstalled ? DropReason.StaleView : DropReason.WrongState);
            return;
        }

        if (message.Sender != LeaderOf(message.View))
        {
            Drop(message, DropReason.Malformed);
            return;
        }

        SendImmediate(message.Sender, new ReadConfirm(_id, _lastInstalled, message.Round, LeasePromise()));
    }

    /// <summary>With read leases on, how many more of its ticks this replica will surely not vote for a view after the one
    /// it follows: it leaves the view only when its <c>Progress_Timer</c> fires, which is no sooner than one tick less than
    /// it has left to run (the next tick may come at once). Capped at <see cref="ProtocolOptions.ProgressTimeoutTicks"/>
    /// less one, which the vote held after a restart covers.</summary>
    private long LeasePromise() =>
        _options.ReadLeases && _progressTimer.IsRunning && !VoteHeld
            ? Math.Max(0, Math.Min(_progressTimer.Remaining, _options.ProgressTimeoutTicks) - 1)
            : 0;

    private void OnReadConfirm(ReadConfirm message)
    {
        if (_state != ReplicaState.RegularLeader || message.View != _lastInstalled || _readRoundView != _lastInstalled.Value)
        {
            Drop(message, message.View < _lastInstalled ? DropReason.StaleView : DropReason.WrongState);
            return;
        }

        var extended = NoteLease(message);
        if (!ReadRoundInFlight || message.Round != _readRound)
        {
            if (!extended)
            {
                Drop(message, DropReason.StaleAnswer); // An answer to a round already confirmed, or a duplicate.
            }

            return;
        }

        _readConfirms |= Bit(message.Sender);
        CheckReadRoundConfirmed();
    }

    /// <summary>A promise in an answer to the latest round: the peer will not vote for a later view for
    /// <see cref="ReadConfirm.LeaseTicks"/> of its ticks from its answer, which came after the round started. On this
    /// replica's clock that is surely still so before the round's start plus the promise shortened by the drift bound —
    /// its ticks may be slow and the peer's fast by <see cref="ProtocolOptions.MaxClockDriftPpm"/> each — less two ticks:
    /// one because this replica's tick may be nearly over, one for the time between its tick and a read it serves.
    /// Returns whether the peer's lease grew.</summary>
    private bool NoteLease(ReadConfirm message)
    {
        if (!_options.ReadLeases || message.LeaseTicks <= 0 || message.Round != _readRound || _readRound == 0)
        {
            return false;
        }

        var drift = (long)_options.MaxClockDriftPpm;
        var promise = Math.Min(message.LeaseTicks, int.MaxValue);
        var until = _readRoundStartTick + (promise * (1_000_000 - drift) / (1_000_000 + drift)) - 2;
        var leases = _leaseUntil ??= new long[_clusterSize];
        if (until <= leases[message.Sender.Value])
        {
            return false;
        }

        leases[message.Sender.Value] = until;
        _leaseEnd = LeaseEndOf(leases);
        return true;
    }

    /// <summary>The tick before which a majority's promises hold: the leader's own (it serves only while it leads) and
    /// those of the peers with the longest leases, as many as a majority needs beside the leader.</summary>
    private long LeaseEndOf(long[] leases)
    {
        Span<long> peers = stackalloc long[_clusterSize];
        leases.CopyTo(peers);
        peers[_id.Value] = long.MinValue;
        peers.Sort();
        // Called for a peer's answer, so there are peers, and a majority needs at least one of them beside the leader.
        return peers[_clusterSize - (_quorum - 1)];
    }

    /// <summary>Whether this replica, as the view's regular leader, holds a lease now: no later view can be installed
    /// before its end, so it may serve a read at its read index without a confirmation round.</summary>
    private bool LeaseHeld =>
        _options.ReadLeases && _state == ReplicaState.RegularLeader && !_rebuilding
        && _readRoundView == _lastInstalled.Value && _tick < _leaseEnd;

    private void ForgetLeases()
    {
        _leaseEnd = 0;
        if (_leaseUntil is { } leases)
        {
            Array.Clear(leases);
        }
    }

    /// <summary>When a majority answered the round in flight: confirms every read registered in it or before, answers the
    /// peers' requests among them, and starts the next round if reads wait for one.</summary>
    private void CheckReadRoundConfirmed()
    {
        if (!ReadRoundInFlight || !IsQuorum(_readConfirms))
        {
            return;
        }

        var round = _readRound;
        _readRoundConfirmed = round;
        _readsChanged = true;
        for (var i = 0; i < _reads.Count; i++)
        {
            var read = _reads[i];
            if (read.View == _readRoundView && read.Round != 0 && read.Round <= round)
            {
                _reads[i] = read with { Confirmed = true };
            }
        }

        var kept = 0;
        for (var i = 0; i < _remoteReads.Count; i++)
        {
            var remote = _remoteReads[i];
            if (remote.Round <= round)
            {
                Counters.ReadIndexRepliesSent++;
                SendImmediate(remote.Requester, new ReadIndexReply(_id, _lastInstalled, remote.RequestId, new SequenceNumber(remote.Index)));
            }
            else
            {
                _remoteReads[kept++] = remote;
            }
        }

        _remoteReads.RemoveRange(kept, _remoteReads.Count - kept);
        if (_readRoundWanted)
        {
            StartReadRound();
            CheckReadRoundConfirmed(); // N = 1: the leader alone is a majority. Recursion depth is one.
        }
    }

    /// <summary>A peer asks this replica, as leader of the view named, for a read index.</summary>
    private void OnReadIndexRequest(ReadIndexRequest message)
    {
        if (_state != ReplicaState.RegularLeader || message.View != _lastInstalled || _rebuilding)
        {
            Drop(message, message.View < _lastInstalled ? DropReason.StaleView : DropReason.WrongState);
            return;
        }

        _lastLeaseReadTick = _tick;
        if (LeaseHeld)
        {
            // No later view can be installed before the lease ends, so the index holds without a round.
            Counters.ReadsUnderLease++;
            Counters.ReadIndexRepliesSent++;
            SendImmediate(message.Sender, new ReadIndexReply(_id, _lastInstalled, message.RequestId, new SequenceNumber(ReadIndex())));
            return;
        }

        if (PendingReadCount >= _options.MaxPendingReads)
        {
            Drop(message, DropReason.QueueFull); // The requester asks again, or times out.
            return;
        }

        var round = JoinReadRound();
        _remoteReads.Add(new RemoteRead(message.Sender, message.RequestId, ReadIndex(), round, _tick + _options.ReadTimeoutTicks));
        CheckReadRoundConfirmed();
    }

    /// <summary>The leader's read index for one of this replica's reads: the read may be served once executed through it.</summary>
    private void OnReadIndexReply(ReadIndexReply message)
    {
        if (_state != ReplicaState.RegularNonLeader || message.View != _lastInstalled || message.Sender != LeaderOf(_lastInstalled))
        {
            Drop(message, message.View < _lastInstalled ? DropReason.StaleView : DropReason.WrongState);
            return;
        }

        for (var i = 0; i < _reads.Count; i++)
        {
            var read = _reads[i];
            if (read.Id.Value == message.RequestId && read.View == message.View.Value && read.Index < 0)
            {
                _reads[i] = read with { Index = message.Index.Value, Confirmed = true };
                _readsChanged = true;
                return;
            }
        }

        Drop(message, DropReason.Duplicate); // Answered already (a retransmitted request), timed out, or unknown.
    }

    /// <summary>Once per tick: fails reads past their deadline, forgets peers' requests past theirs, and sends again a
    /// confirmation round or a read-index request that went unanswered for a retransmission period.</summary>
    private void OnReadTimers()
    {
        RenewLease();
        if (PendingReadCount == 0)
        {
            return;
        }

        var kept = 0;
        for (var i = 0; i < _reads.Count; i++)
        {
            var read = _reads[i];
            if (read.DeadlineTick <= _tick)
            {
                FailRead(read.Id, ReadFailure.Timeout);
                continue;
            }

            if (read.ByLease && !LeaseHeld && _state == ReplicaState.RegularLeader && read.View == _lastInstalled.Value)
            {
                // The lease ran out before the read could be served: it waits for a round instead.
                read = read with { ByLease = false, Round = JoinReadRound() };
                CheckReadRoundConfirmed();
            }

            if (read.Index < 0 && _tick - read.SentTick >= _options.ProposalRetransmitTicks && _state == ReplicaState.RegularNonLeader)
            {
                read = read with { SentTick = _tick };
                Counters.ReadIndexRequestsSent++;
                SendImmediate(LeaderOf(_lastInstalled), new ReadIndexRequest(_id, _lastInstalled, read.Id.Value));
            }

            _reads[kept++] = read;
        }

        _reads.RemoveRange(kept, _reads.Count - kept);
        kept = 0;
        for (var i = 0; i < _remoteReads.Count; i++)
        {
            if (_remoteReads[i].DeadlineTick > _tick)
            {
                _remoteReads[kept++] = _remoteReads[i];
            }
        }

        _remoteReads.RemoveRange(kept, _remoteReads.Count - kept);
        if (_state == ReplicaState.RegularLeader && ReadRoundInFlight && _tick - _readRoundSentTick >= _options.ProposalRetransmitTicks)
        {
            _readRoundSentTick = _tick;
            BroadcastImmediate(new ReadConfirmRequest(_id, _lastInstalled, _readRound));
        }
    }

    /// <summary>At the leader with read leases, while reads come: starts a round when the lease has half a progress timeout
    /// or less to run, so that it is renewed before it ends.</summary>
    private void RenewLease()
    {
        if (_options.ReadLeases
            && _state == ReplicaState.RegularLeader
            && !_rebuilding
            && !ReadRoundInFlight
            && _tick - _lastLeaseReadTick <= _options.ProgressTimeoutTicks
            && (_readRoundView != _lastInstalled.Value || _leaseEnd - _tick <= _options.ProgressTimeoutTicks / 2))
        {
            Counters.LeaseRenewals++;
            JoinReadRound();
            CheckReadRoundConfirmed();
        }
    }

    /// <summary>Called as the batch is taken: lists the reads that may be served now, and fails those whose view this
    /// replica left (their leader's confirmation no longer holds, or never came).</summary>
    private void ServeReads()
    {
        if (_reads.Count == 0 || (!_readsChanged && _readsLookedAtAru == _localAru))
        {
            return;
        }

        _readsChanged = false;
        _readsLookedAtAru = _localAru;
        var regular = (_state == ReplicaState.RegularLeader || _state == ReplicaState.RegularNonLeader) && !_rebuilding;
        var kept = 0;
        for (var i = 0; i < _reads.Count; i++)
        {
            var read = _reads[i];
            if (!regular || read.View != _lastInstalled.Value)
            {
                FailRead(read.Id, ReadFailure.NotLeader);
            }
            else if ((read.Confirmed || (read.ByLease && LeaseHeld)) && read.Index <= _localAru)
            {
                Counters.ReadsServed++;
                _output.AddReadReady(read.Id);
            }
            else
            {
                _reads[kept++] = read;
            }
        }

        _reads.RemoveRange(kept, _reads.Count - kept);
    }

    /// <summary>On every change of state or view: the leader's rounds end, and peers' requests are forgotten (they time
    /// out at their senders). Local reads fail at the next <see cref="ServeReads"/>, which sees their view left.</summary>
    private void LeaveReadView()
    {
        _remoteReads.Clear();
        _readRoundView = 0;
        _readRound = 0;
        _readRoundConfirmed = 0;
        _readConfirms = 0;
        _readRoundWanted = false;
        _readsChanged = true;
        ForgetLeases();
    }

    private void FailRead(ReadRequestId read, ReadFailure reason)
    {
        Counters.ReadsFailed++;
        _output.AddReadFailed(new FailedRead(read, reason));
    }

    private void SendImmediate(ReplicaId destination, PaxosMessage message) =>
        _output.AddImmediateMessage(new OutboundMessage(destination, message));

    /// <summary>One local read: its view, its read index (−1 until a non-leader learns it), the round that confirms it
    /// at the leader (0 at a non-leader), whether it is confirmed, its deadline and when its request was last sent.</summary>
    private readonly record struct LocalRead(ReadRequestId Id, long View, long Index, long Round, long DeadlineTick, long SentTick)
    {
        public bool Confirmed { get; init; }

        /// <summary>Taken under the leader's lease: served while the lease holds, else it joins a round.</summary>
        public bool ByLease { get; init; }
    }

    /// <summary>A peer's read-index request at the leader.</summary>
    private readonly record struct RemoteRead(ReplicaId Requester, long RequestId, long Index, long Round, long DeadlineTick);
}
