
using Paxos.Messages;

namespace Paxos.Protocol;

// The Prepare phase (TR §5.4, Figs. 7–9).
public sealed partial class PaxosReplica
{
    /// <summary>Prepare_OKs[] at the leader: which parts of each replica's data list arrived.</summary>
    private readonly PrepareOkProgress?[] _prepareOks;

    /// <summary>How many replicas (the leader included) delivered a complete Prepare_OK.</summary>
    private int _preparedCount;

    /// <summary>How many of them are not rebuilding lost state (the leader included).</summary>
    private int _preparedIntactCount;

    /// <summary>The Prepare of the view being installed: received from its leader, or the leader's own.</summary>
    private Prepare? _prepare;

    /// <summary>This replica's own Prepare_OK for Last_Installed, kept to be re-sent on request.</summary>
    private PrepareOk[]? _ownPrepareOk;

    private Timeout _prepareTimer;

    /// <summary>The most parts a data list can have: it covers at most the lag a replica tolerates plus
    /// its receive window, and every part holds at least one entry.</summary>
    private int MaxDataListParts => (int)Math.Min(int.MaxValue, (4 * _window) + 16);

    /// <summary>TR Fig. 7 A, Shift_To_Prepare_Phase: the leader installs its view and asks for data lists.</summary>
    private void ShiftToPreparePhase()
    {
        _lastInstalled = _lastAttempted;
        LeaveReadView();
        _output.InstalledView = _lastInstalled;
        Counters.ViewsInstalled++;

        // G4: arm the Progress_Timer on every install path (it is not running after a VC_Proof install).
        if (!_progressTimer.IsRunning)
        {
            _progressTimer.Start();
        }

        ResetPreparePhase();
        _prepare = new Prepare(_id, _lastInstalled, new SequenceNumber(_localAru));

        // The leader's own Prepare_OK: its data list is its own history, already in place.
        _prepareOks[_id.Value] = PrepareOkProgress.CompleteFor(1);
        _preparedCount = 1;
        _preparedIntactCount = 1;
        _lastEnqueued.Clear();
        Log.ShiftedToPreparePhase(_logger, _id, _lastInstalled, _prepare.LocalAru);

        // The contract makes Last_Installed durable before this Prepare leaves (TR Fig. 7 A9).
        Broadcast(_prepare);
        _prepareTimer.Start();
        CheckViewPrepared();
    }

    /// <summary>TR Fig. 7 B: a Prepare arrived.</summary>
    private void OnPrepare(Prepare message)
    {
        var reason = ConflictChecks.Prepare(_id, _lastAttempted, message);
        if (reason == DropReason.None && message.Sender != LeaderOf(message.View))
        {
            reason = DropReason.Malformed;
        }

        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        if (_rebuilding && !MayInstallWhileRebuilding(message.View))
        {
            // Below the floor, or before it is known, a promise could break one made before the disk was lost.
            Drop(message, DropReason.Rebuilding);
            return;
        }

        var installing = _state == ReplicaState.LeaderElection;
        var retransmission = _state == ReplicaState.RegularNonLeader && message.View == _lastInstalled;
        if (!installing && !retransmission)
        {
            Drop(message, DropReason.WrongState);
            return;
        }

        if (VoteHeld)
        {
            // Its Prepare_OK would be a vote for a view it may have promised not to help install; the leader sends again.
            // That holds for a retransmission too: a held replica may have joined the view by a follower's VC_Proof,
            // without a Prepare_OK of its own.
            Drop(message, DropReason.VoteHeld);
            return;
        }

        // TR §5.6: answer only a leader that is not too far behind, so that data lists stay bounded; a
        // leader further behind is told to catch up first and prepares again with a higher aru.
        // And one whose aru is below what this replica released: the slots between are no longer here to report in a
        // data list, so the leader must learn them first (from a peer's log or a snapshot) and prepare again.
        if (_localAru - message.LocalAru.Value > _window || message.LocalAru.Value < _history.Floor)
        {
            Counters.PrepareRejectsSent++;
            Log.PrepareRejected(_logger, _id, message.Sender, message.View, message.LocalAru, new SequenceNumber(_localAru));
            Send(message.Sender, new PrepareReject(_id, message.View, new SequenceNumber(_localAru)));
            return;
        }

        if (installing)
        {
            _prepare = message;
            _ownPrepareOk = BuildPrepareOk(message.View, message.LocalAru.Value);
            ShiftToRegularNonLeader();
        }
        else
        {
            // Receiver-driven retransmission: re-send the stored Prepare_OK (built now if this replica
            // installed the view through a VC_Proof).
            _ownPrepareOk ??= BuildPrepareOk(message.View, message.LocalAru.Value);
        }

        // Sent after Last_Installed is durable: a Prepare_OK is a promise.
        foreach (var part in _ownPrepareOk)
        {
            Send(message.Sender, part);
        }
    }

    /// <summary>TR Fig. 8 A, Construct_DataList: for every slot above <paramref name="aru"/>, the ordered update
    /// if there is one, else the accepted Proposal; split into parts that each fit a message.</summary>
    private PrepareOk[] BuildPrepareOk(ViewNumber view, long aru)
    {
        var parts = new List<List<DataListEntry>>();
        var current = new List<DataListEntry>();
        var bytes = MessageSizes.HeaderBytes;
        for (var sequence = Math.Max(aru, 0) + 1; sequence <= _history.Highest; sequence++)
        {
            ref readonly var slot = ref _history.Peek(sequence);
            if (slot.IsEmpty)
            {
                continue;
            }

            var entry = slot.IsOrdered
                ? new DataListEntry(new SequenceNumber(sequence), ViewNumber.None, true, slot.Update!)
                : new DataListEntry(new SequenceNumber(sequence), new ViewNumber(slot.ProposalView), false, slot.Update!);
            var size = MessageSizes.Entry(entry);
            if (current.Count > 0 && bytes + size > _options.MaxMessageBytes)
            {
                parts.Add(current);
                current = [];
                bytes = MessageSizes.HeaderBytes;
            }

            current.Add(entry);
            bytes += size;
        }

        parts.Add(current);
        var messages = new PrepareOk[parts.Count];
        for (var i = 0; i < parts.Count; i++)
        {
            messages[i] = new PrepareOk(_id, view, i, parts.Count, parts[i].ToArray(), _rebuilding);
        }

        return messages;
    }

    /// <summary>TR Fig. 8 B: a Prepare_OK (or one part of it) arrived at the preparing leader.</summary>
    private void OnPrepareOk(PrepareOk message)
    {
        var reason = ConflictChecks.PrepareOk(_state, _lastAttempted, message);
        if (reason == DropReason.None && (!IsLeaderOf(message.View) || _lastInstalled != _lastAttempted))
        {
            reason = DropReason.WrongState;
        }

        if (reason == DropReason.None
            && (message.Sender == _id || message.PartCount < 1 || message.PartCount > MaxDataListParts
                || message.Part < 0 || message.Part >= message.PartCount))
        {
            reason = DropReason.Malformed;
        }

        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        var progress = _prepareOks[message.Sender.Value];
        if (progress is null || progress.PartCount != message.PartCount)
        {
            // A rebuilt data list may have a different number of parts; entries applied from the old one
            // stay valid (each is a genuine Proposal or ordered update).
            if (progress is { IsComplete: true })
            {
                Drop(message, DropReason.Duplicate);
                return;
            }

            progress = new PrepareOkProgress(message.PartCount);
            _prepareOks[message.Sender.Value] = progress;
        }

        if (progress.IsComplete || !progress.Mark(message.Part))
        {
            Drop(message, DropReason.Duplicate);
            return;
        }

        // TR Fig. 5 C: apply every entry with the Proposal and Globally_Ordered_Update rules.
        foreach (var entry in message.Entries)
        {
            ApplyDataListEntry(entry, message);
        }

        // G10: ordered updates from a data list can extend Local_Aru; the TR forgot this call.
        AdvanceAru();

        if (progress.IsComplete)
        {
            _preparedCount++;
            if (!message.Rebuilding)
            {
                _preparedIntactCount++;
            }

            CheckViewPrepared();
        }
    }

    private void ApplyDataListEntry(in DataListEntry entry, PrepareOk message)
    {
        var sequence = entry.Sequence.Value;
        if (entry.Update is null || sequence < 1 || sequence > _localAru + (4 * _window) + 4096)
        {
            return;
        }

        if (entry.IsOrdered)
        {
            CountOrdered(ApplyOrdered(sequence, entry.Update), sequence, entry.Update, message);
            return;
        }

        // A reported Proposal comes from an earlier view (the reporter had promised this one).
        if (entry.View >= _lastInstalled || entry.View == ViewNumber.None)
        {
            return;
        }

        ApplyProposal(sequence, entry.View.Value, entry.Update);
    }

    /// <summary>A non-leader far ahead of this preparing leader asked it to catch up first (TR §5.6).</summary>
    private void OnPrepareReject(PrepareReject message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        if (_state != ReplicaState.LeaderElection || message.View != _lastAttempted
            || _lastInstalled != _lastAttempted || !IsLeaderOf(message.View))
        {
            Drop(message, DropReason.WrongState);
            return;
        }

        NotePeerAru(message.Sender, message.LocalAru.Value);
        ScheduleCatchUp(message.LocalAru.Value, message.Sender, immediately: true);
    }

    /// <summary>TR Fig. 8 B4: View_Prepared_Ready — a majority (the leader included) sent complete Prepare_OKs,
    /// and N − ⌊N/2⌋ of them come from replicas with intact state. A replica rebuilding a lost disk may have
    /// helped choose values it no longer reports; those N − ⌊N/2⌋ meet every majority that chose a value in at
    /// least one replica that remembers it (for an odd N this is the majority itself).</summary>
    private void CheckViewPrepared()
    {
        if (_preparedCount >= _quorum && _preparedIntactCount >= IntactQuorum)
        {
            ShiftToRegularLeader();
        }
    }

    private void OnPrepareTimer(bool prepareDue)
    {
        if (!prepareDue)
        {
            return;
        }

        if (_state != ReplicaState.LeaderElection || _lastInstalled != _lastAttempted || !IsLeaderOf(_lastInstalled))
        {
            return;
        }

        // Sender-driven retransmission to those whose Prepare_OK is incomplete. The aru may have grown
        // (catch-up); a higher aru only shortens the data lists, and Last_Installed is already durable.
        var prepare = _prepare!.LocalAru.Value == _localAru
            ? _prepare
            : _prepare = new Prepare(_id, _lastInstalled, new SequenceNumber(_localAru));
        for (var replica = 0; replica < _clusterSize; replica++)
        {
            if (replica != _id.Value && _prepareOks[replica] is not { IsComplete: true })
            {
                Send(new ReplicaId(replica), prepare);
            }
        }

        _prepareTimer.Start();
    }

    /// <summary>Clears Prepare, Prepare_OKs[] and the stored own Prepare_OK (TR Fig. 6 E2).</summary>
    private void ResetPreparePhase()
    {
        _prepare = null;
        _ownPrepareOk = null;
        Array.Clear(_prepareOks);
        _preparedCount = 0;
        _preparedIntactCount = 0;
        _prepareTimer.Stop();
    }

    /// <summary>Which parts of one replica's data list arrived.</summary>
    private sealed class PrepareOkProgress
    {
        private readonly bool[] _received;
        private int _count;

        public PrepareOkProgress(int partCount)
        {
            _received = new bool[partCount];
            PartCount = partCount;
        }

        public int PartCount { get; }

        public bool IsComplete => _count == PartCount;

        public static PrepareOkProgress CompleteFor(int partCount)
        {
            var progress = new PrepareOkProgress(partCount);
            for (var i = 0; i < partCount; i++)
            {
                progress.Mark(i);
            }

            return progress;
        }

        public bool Mark(int part)
        {
            if (_received[part])
            {
                return false;
            }

            _received[part] = true;
            _count++;
            return true;
        }
    }
}
