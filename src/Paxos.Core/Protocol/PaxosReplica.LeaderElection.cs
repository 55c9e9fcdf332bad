
using Paxos.Messages;

namespace Paxos.Protocol;

// Leader election (TR §5.3, Fig. 6).
public sealed partial class PaxosReplica
{
    /// <summary>VC[]: the replicas that voted for Last_Attempted, one bit each. Only votes for exactly
    /// Last_Attempted are ever applied, and the first vote per replica wins (TR Fig. 5 A).</summary>
    private ulong _viewChangeVotes;

    private Timeout _viewChangeTimer;

    /// <summary>The tick before which this replica holds its vote after starting (0 when it does not).</summary>
    private long _voteHeldUntilTick;

    /// <summary>TR Fig. 6 B: a View_Change arrived.</summary>
    private void OnViewChange(ViewChange message)
    {
        var reason = ConflictChecks.ViewChange(_id, _state, _progressTimer.IsRunning, _lastInstalled, message);
        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        // B1: jump to a higher attempt only while suspecting the leader and not yet preinstalled (both
        // guaranteed by the conflict checks), which is what keeps a flaky replica from disrupting a stable
        // majority (TR §5.3).
        if (message.Attempted > _lastAttempted)
        {
            ShiftToLeaderElection(message.Attempted);
        }

        // B2: a separate check, not an else: a replica that just jumped counts the vote that made it jump.
        if (message.Attempted == _lastAttempted)
        {
            _viewChangeVotes |= Bit(message.Sender);
            CheckPreinstall();
        }
    }

    /// <summary>TR Fig. 6 B5–B10: once a majority voted for Last_Attempted, preinstall it: double and start
    /// the Progress_Timer, and the view's leader starts its Prepare phase.</summary>
    private void CheckPreinstall()
    {
        // A replica holding its vote does not preinstall either: as the view's leader it would count its own
        // Prepare_OK. Once the hold ends, ReleaseHeldVote looks again.
        if (_progressTimer.IsRunning || !IsQuorum(_viewChangeVotes) || VoteHeld)
        {
            return;
        }

        _progressTimer.BackOff();
        _progressTimer.Start();
        Counters.ViewsPreinstalled++;
        Log.Preinstalled(_logger, _id, _lastAttempted, _progressTimer.DurationTicks);

        // A rebuilding replica does not lead: its own history would stand in for state it forgot. Its timer
        // runs, so the attempt moves on to the next view's leader.
        if (IsLeaderOf(_lastAttempted) && !_rebuilding)
        {
            ShiftToPreparePhase();
        }
    }

    /// <summary>
    /// TR Fig. 6 C: a VC_Proof arrived. A replica stuck in leader election joins a view that others installed.
    /// </summary>
    /// <remarks>
    /// Departure (G15 in docs/protocol-notes.md): a non-leader also rejoins the view it left — its own
    /// Last_Installed — when the proof comes from that view's leader. It promised exactly that view, so
    /// this is safe, and it brings back a replica whose timer expired during a partition or that restarted,
    /// instead of leaving it outside every quorum until the next view change. Only replicas in a regular
    /// state send VC_Proof (as JL does), so the proof shows the view is still led.
    /// </remarks>
    private void OnVcProof(VcProof message)
    {
        // A rebuilding replica reads proofs in a regular state too: the leader's proof of the view it installed
        // through a Prepare says where the view's constrained range ends, which it must execute before voting.
        if (_rebuilding && message.Sender != _id)
        {
            OnVcProofWhileRebuilding(message);
            return;
        }

        var reason = ConflictChecks.VcProof(_id, _state, message);
        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        var installed = message.Installed;
        if (installed > _lastInstalled)
        {
            _lastAttempted = installed;
            NoteAttempted(installed);
            _viewChangeVotes = 0;
            if (IsLeaderOf(installed))
            {
                ShiftToPreparePhase();
            }
            else
            {
                ShiftToRegularNonLeader();
            }

            return;
        }

        if (_options.AllowSameViewRejoin
            && installed == _lastInstalled
            && installed != ViewNumber.None
            && _lastAttempted > _lastInstalled
            && message.Sender == LeaderOf(installed)
            && !IsLeaderOf(installed))
        {
            _lastAttempted = installed;
            _viewChangeVotes = 0;
            Counters.SameViewRejoins++;
            Log.RejoinedView(_logger, _id, installed, message.Sender);
            ShiftToRegularNonLeader();
            return;
        }

        Drop(message, DropReason.StaleView);
    }

    /// <summary>
    /// TR Fig. 6 E, Shift_to_Leader_Election(view), with the missing <c>State = LEADER_ELECTION</c> (G3) and
    /// the Progress_Timer stopped, as the paper's reasoning assumes.
    /// </summary>
    private void ShiftToLeaderElection(ViewNumber view)
    {
        _state = ReplicaState.LeaderElection;
        LeaveReadView();
        _progressTimer.Stop();
        _viewChangeVotes = 0;
        ResetPreparePhase();
        ResetLeaderState();
        _lastEnqueued.Clear();
        _updateQueue.Clear();
        _lastAttempted = view;
        NoteAttempted(view); // Durable before the View_Change below leaves (the batch's messages wait for it).
        Counters.ViewChangesStarted++;
        Log.ShiftedToLeaderElection(_logger, _id, view);

        if (!VoteHeld)
        {
            Broadcast(new ViewChange(_id, view));
            _viewChangeVotes |= _selfBit;
        }

        _viewChangeTimer.Start();

        // With N = 1 the replica's own vote is a majority.
        CheckPreinstall();
    }

    /// <summary>Whether this replica still holds its vote after starting (read leases: <see cref="ReleaseHeldVote"/>).</summary>
    private bool VoteHeld => _tick < _voteHeldUntilTick;

    /// <summary>With read leases on, a replica that starts may have promised before, in a confirmation it no longer
    /// remembers, not to vote for a later view for up to <see cref="ProtocolOptions.ProgressTimeoutTicks"/> of its ticks.
    /// So for that long it sends no View_Change and no Prepare_OK for a view it has not installed; once the hold ends it
    /// casts the vote it held back.</summary>
    /// <returns>Whether it sent its View_Change now (so the retransmission due in the same tick is not needed).</returns>
    private bool ReleaseHeldVote()
    {
        if (_voteHeldUntilTick == 0 || VoteHeld)
        {
            return false;
        }

        _voteHeldUntilTick = 0;
        if (_state != ReplicaState.LeaderElection)
        {
            return false;
        }

        Broadcast(new ViewChange(_id, _lastAttempted));
        _viewChangeVotes |= _selfBit;
        _viewChangeTimer.Start();
        CheckPreinstall();
        return true;
    }

    private void OnLeaderElectionTimers(bool viewChangeDue, bool vcProofDue)
    {
        // TR §5.9: View_Change is re-sent periodically while in leader election.
        if (viewChangeDue)
        {
            if (_state == ReplicaState.LeaderElection)
            {
                if (!VoteHeld)
                {
                    Broadcast(new ViewChange(_id, _lastAttempted));
                }

                _viewChangeTimer.Start();
            }
        }

        // TR §5.3: VC_Proof is sent periodically, here by replicas in a regular state only (see OnVcProof).
        if (vcProofDue)
        {
            if (_state != ReplicaState.LeaderElection)
            {
                // A regular leader reports where its constrained range ends (at least 1, so that None still means
                // "not from the view's regular leader"): a rebuilding replica executes that far before it votes.
                var constrained = _state == ReplicaState.RegularLeader ? new SequenceNumber(Math.Max(1, _constrainedUpTo)) : SequenceNumber.None;
                Broadcast(new VcProof(_id, _lastInstalled, constrained));
            }

            _vcProofTimer.Start();
        }
    }
}
