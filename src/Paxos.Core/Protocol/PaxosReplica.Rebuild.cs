using System.Numerics;
using Paxos.Messages;

namespace Paxos.Protocol;

// Rebuilding a replica whose stable storage was lost (docs/protocol-notes.md, "Rebuilding a lost disk", gives
// the whole argument). A replica that forgot what it promised and accepted must not vote on that state:
// its Prepare_OK could omit a value a majority chose with its help, and it could accept a Proposal of a view
// older than one it promised. So it:
// 1. asks the others, with a nonce new for this start, for the highest view each ever attempted, and takes the
//    highest of the fresh answers of N − ⌊N/2⌋ replicas that are not rebuilding themselves as its floor F.
//    Every view it could have promised before the loss was preinstalled by a majority, whose members persist
//    the attempt before voting for it, and that majority without this replica meets those N − ⌊N/2⌋;
// 2. never prepares a view as leader, never answers a query, and installs no view below F;
// 3. answers a Prepare of a view u ≥ F with a Prepare_OK marked rebuilding, which a leader does not count
//    towards the N − ⌊N/2⌋ replicas with intact state that its Prepare phase needs; or joins a view u ≥ F
//    through a VC_Proof of u's regular leader;
// 4. votes normally again once it has executed through the end of u's constrained range (reported in the
//    leader's VC_Proof) — every slot chosen before u lies in it — and, when u = F (the replica may have
//    accepted in u before the loss), through the highest slot u's leader reported in a fresh answer.
public sealed partial class PaxosReplica
{
    private bool _rebuilding;

    /// <summary>The highest view this replica ever attempted, as durable (PfSB's stored Last_Attempted). It
    /// rises before a View_Change for a new view leaves, and never falls, across restarts too.</summary>
    private ViewNumber _highestAttempted;

    /// <summary>This rebuild's nonce; answers that do not echo it are stale.</summary>
    private long _rebuildNonce;

    /// <summary>The replicas (not rebuilding) whose fresh answers arrived, one bit each.</summary>
    private ulong _rebuildHeard;

    /// <summary>The highest view those replicas attempted; fixed once enough answered.</summary>
    private ViewNumber _rebuildViewFloor;

    /// <summary>Whether enough replicas answered for <see cref="_rebuildViewFloor"/> to bound every view this
    /// replica may have promised before it lost its disk.</summary>
    private bool _rebuildFloorKnown;

    /// <summary>The highest view whose regular leader answered the query, and the highest slot it reported.</summary>
    private ViewNumber _rebuildLeaderView;
    private long _rebuildLeaderProposed = -1;

    /// <summary>The view whose constrained range is known (from its leader's VC_Proof), and the range's end.</summary>
    private ViewNumber _rebuildTargetView;
    private long _rebuildTarget = -1;

    /// <summary>N − ⌊N/2⌋: the answers a rebuild needs from replicas other than itself, and the Prepare_OKs from
    /// replicas with intact state (the leader's own included) that a Prepare phase needs.</summary>
    private int IntactQuorum => _clusterSize - (_clusterSize / 2);

    private void StartRebuildIfNeeded(PersistentState recovered)
    {
        if (recovered.RequiresRebuild)
        {
            _rebuilding = true;
        }
        else if (_options.RebuildFromPeers && recovered.IsEmpty && _clusterSize > 1)
        {
            _rebuilding = true;
            _output.RebuildStarted = true;
        }

        if (_rebuilding)
        {
            // Never negative, so that it encodes as a view-sized field; the host gives each start its own seed.
            _rebuildNonce = (long)(_random.Next() >> 1);
            Log.RebuildStarted(_logger, _id);
            Broadcast(new RebuildQuery(_id, _rebuildNonce));
        }
    }

    /// <summary>Raises the durable Last_Attempted to <paramref name="view"/> when it is higher: this batch persists
    /// it, before any of its messages (a View_Change for it, say) leaves.</summary>
    private void NoteAttempted(ViewNumber view)
    {
        if (view > _highestAttempted)
        {
            _highestAttempted = view;
            _output.AttemptedView = view;
        }
    }

    /// <summary>A rebuilding peer asks for the highest view this replica attempted.</summary>
    private void OnRebuildQuery(RebuildQuery message)
    {
        if (message.Sender == _id)
        {
            Drop(message, DropReason.FromSelf);
            return;
        }

        if (_rebuilding)
        {
            // A rebuilding replica's word counts for nothing: it forgot what it attempted.
            Drop(message, DropReason.Rebuilding);
            return;
        }

        var leaderProposed = _state == ReplicaState.RegularLeader
            ? new SequenceNumber(Math.Max(_lastProposed, _constrainedUpTo))
            : SequenceNumber.None;
        Counters.RebuildRepliesSent++;

        // In Messages: it leaves after everything it reports (Last_Attempted above all) is durable.
        Send(message.Sender, new RebuildReply(_id, message.Nonce, _highestAttempted, _lastInstalled, leaderProposed));

        // The rebuilding replica may not install this view (it may have promised a higher one before its loss,
        // or a peer's restart left a higher attempt behind). A stable view would never end on its own, so its
        // leader gives way, as if its Progress_Timer had expired: the others follow when theirs do.
        if (_state == ReplicaState.RegularLeader && message.Floor > _lastInstalled)
        {
            Counters.RebuildViewChanges++;
            Log.GaveWayToRebuild(_logger, _id, _lastInstalled, message.Sender, message.Floor);
            ShiftToLeaderElection(message.Floor);
        }
    }

    /// <summary>A fresh answer to this rebuild's query.</summary>
    private void OnRebuildReply(RebuildReply message)
    {
        var reason = message.Sender == _id ? DropReason.FromSelf
            : !_rebuilding ? DropReason.WrongState
            : message.Nonce != _rebuildNonce ? DropReason.StaleAnswer
            : DropReason.None;
        if (reason != DropReason.None)
        {
            Drop(message, reason);
            return;
        }

        if (!_rebuildFloorKnown)
        {
            _rebuildHeard |= Bit(message.Sender);
            if (message.LastAttempted > _rebuildViewFloor)
            {
                _rebuildViewFloor = message.LastAttempted;
            }

            if (BitOperations.PopCount(_rebuildHeard) >= IntactQuorum)
            {
                _rebuildFloorKnown = true;

                // Persisted: once this replica votes again it answers others' queries, and must report a view at
                // least as high as any it attempted before the loss, all of which lie at or below the floor.
                NoteAttempted(_rebuildViewFloor);
                Log.RebuildFloorLearned(_logger, _id, _rebuildViewFloor, BitOperations.PopCount(_rebuildHeard));
            }
        }

        if (message.LeaderLastProposed != SequenceNumber.None && message.Sender == LeaderOf(message.LastInstalled))
        {
            if (message.LastInstalled > _rebuildLeaderView)
            {
                _rebuildLeaderView = message.LastInstalled;
                _rebuildLeaderProposed = message.LeaderLastProposed.Value;
            }
            else if (message.LastInstalled == _rebuildLeaderView)
            {
                _rebuildLeaderProposed = Math.Max(_rebuildLeaderProposed, message.LeaderLastProposed.Value);
            }
        }

        CheckRebuildComplete();
    }

    /// <summary>Whether a rebuilding replica may promise or install <paramref name="view"/>: it knows its floor,
    /// and the view is not below it.</summary>
    private bool MayInstallWhileRebuilding(ViewNumber view) => _rebuildFloorKnown && view >= _rebuildViewFloor;

    /// <summary>A VC_Proof while rebuilding: join the view, or learn its constrained range, as described above.</summary>
    private void OnVcProofWhileRebuilding(VcProof message)
    {
        var installed = message.Installed;
        if (!MayInstallWhileRebuilding(installed)
            || message.Sender != LeaderOf(installed)
            || message.ConstrainedThrough == SequenceNumber.None
            || IsLeaderOf(installed)
            || installed < _lastInstalled
            || installed == ViewNumber.None)
        {
            Drop(message, DropReason.Rebuilding);
            return;
        }

        _rebuildTargetView = installed;
        _rebuildTarget = message.ConstrainedThrough.Value;
        var joined = installed > _lastInstalled || _state == ReplicaState.LeaderElection;
        if (joined)
        {
            _lastAttempted = installed;
            NoteAttempted(installed);
            _viewChangeVotes = 0;
            Counters.RebuildJoins++;
            Log.RebuildJoined(_logger, _id, installed, message.Sender, message.ConstrainedThrough, _rebuildViewFloor);
            ShiftToRegularNonLeader();
        }

        CheckRebuildComplete();
    }

    /// <summary>Ends the rebuild once the replica executed everything that could have been chosen with its
    /// forgotten help: the installed view's constrained range, and, in the floor's own view, whatever its leader
    /// had proposed when it answered this rebuild's query.</summary>
    private void CheckRebuildComplete()
    {
        if (!_rebuilding || !_rebuildFloorKnown || _state != ReplicaState.RegularNonLeader
            || _rebuildTargetView != _lastInstalled || _lastInstalled < _rebuildViewFloor)
        {
            return;
        }

        var target = _rebuildTarget;
        if (_lastInstalled == _rebuildViewFloor)
        {
            if (_rebuildLeaderView != _lastInstalled)
            {
                return; // No fresh word yet from this view's leader: the next query's answer brings it.
            }

            target = Math.Max(target, _rebuildLeaderProposed);
        }

        if (_localAru < target)
        {
            return;
        }

        _rebuilding = false;
        _output.RebuildCompleted = true;
        Counters.RebuildsCompleted++;
        Log.RebuildCompleted(_logger, _id, new SequenceNumber(_localAru));
    }

    /// <summary>While rebuilding, the query goes out again with every Alive, until the rebuild completes.</summary>
    private void RepeatRebuildQuery()
    {
        if (_rebuilding)
        {
            Broadcast(new RebuildQuery(_id, _rebuildNonce, _rebuildFloorKnown ? _rebuildViewFloor : ViewNumber.None));
        }
    }
}
