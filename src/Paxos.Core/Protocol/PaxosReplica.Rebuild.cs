using System.Numerics;
using Paxos.Diagnostics;

namespace Paxos;

// Rebuilding a replica whose stable storage was lost (PROTOCOL.md §16.4, G16). A replica that forgot what it
// promised and accepted must not vote on that state: its Prepare_OK could omit a value a majority chose with
// its help, and it could accept a Proposal of a view older than one it promised. So it:
// 1. learns the highest view installed among N − ⌊N/2⌋ other replicas (from their Alive messages). Any view in
//    which it could have promised or accepted anything was installed by a majority, which intersects those
//    replicas without it, so that view is at most this floor;
// 2. never sends a Prepare_OK and never prepares a view as leader while it rebuilds;
// 3. joins a view u at or above the floor only through a VC_Proof from u's leader, which reports the leader's
//    Last_Proposed P; it then accepts u's Proposals, which the leader constrained correctly without it;
// 4. votes again once it has executed through P: every slot a majority could have chosen with its forgotten
//    help was bound by u's leader by then, so its own history now holds it as ordered.
public sealed partial class PaxosReplica
{
    private bool _rebuilding;

    /// <summary>The other replicas whose Last_Installed this rebuild has heard, one bit each.</summary>
    private ulong _rebuildHeard;

    /// <summary>The highest view those replicas installed: no view below it may be joined.</summary>
    private ViewNumber _rebuildViewFloor;

    /// <summary>The slot to execute before voting again; −1 until a view was joined.</summary>
    private long _rebuildTarget = -1;

    /// <summary>Whether the rebuild has heard from enough others to know its view floor.</summary>
    private bool RebuildKnowsFloor => BitOperations.PopCount(_rebuildHeard) >= _clusterSize - _quorum + 1;

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
            Log.RebuildStarted(_logger, _id);
        }
    }

    /// <summary>Notes a peer's installed view while rebuilding.</summary>
    private void NoteInstalledWhileRebuilding(ReplicaId peer, ViewNumber installed)
    {
        if (!_rebuilding || peer == _id)
        {
            return;
        }

        _rebuildHeard |= Bit(peer);
        if (installed > _rebuildViewFloor)
        {
            _rebuildViewFloor = installed;
        }
    }

    /// <summary>A VC_Proof while rebuilding: join the view only as described above.</summary>
    private void OnVcProofWhileRebuilding(VcProof message)
    {
        NoteInstalledWhileRebuilding(message.Sender, message.Installed);
        var installed = message.Installed;
        if (!RebuildKnowsFloor
            || message.Sender != LeaderOf(installed)
            || IsLeaderOf(installed)
            || installed < _rebuildViewFloor
            || installed < _lastInstalled
            || installed == ViewNumber.None)
        {
            Drop(message, DropReason.Rebuilding);
            return;
        }

        _lastAttempted = installed;
        _viewChangeVotes = 0;
        _rebuildTarget = Math.Max(_rebuildTarget, message.LastProposed.Value);
        Counters.RebuildJoins++;
        Log.RebuildJoined(_logger, _id, installed, message.Sender, message.LastProposed, _rebuildViewFloor);
        ShiftToRegularNonLeader();
    }

    /// <summary>Ends the rebuild once the replica executed everything its leader had proposed when it joined.</summary>
    private void CheckRebuildComplete()
    {
        if (!_rebuilding || _rebuildTarget < 0 || _state != ReplicaState.RegularNonLeader || _localAru < _rebuildTarget)
        {
            return;
        }

        _rebuilding = false;
        _output.RebuildCompleted = true;
        Counters.RebuildsCompleted++;
        Log.RebuildCompleted(_logger, _id, new SequenceNumber(_localAru));
    }
}
