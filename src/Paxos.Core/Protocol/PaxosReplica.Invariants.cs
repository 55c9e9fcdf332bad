using System.Diagnostics.CodeAnalysis;

namespace Paxos.Protocol;

// Invariants, checked after every entry point, in Release builds too: a broken one stops the
// replica (fail-stop, docs/protocol-notes.md) rather than let it risk disagreement. Each check is
// O(1): the expensive cross-replica properties (agreement, prefix) are the simulator's job, and the one
// cross-replica fact a replica can see — a slot ordered twice with different updates — is checked where
// it happens (ApplyOrdered).
public sealed partial class PaxosReplica
{
    private void CheckInvariants()
    {
        Invariant(_lastInstalled <= _lastAttempted, "Last_Installed ≤ Last_Attempted");
        Invariant(_lastInstalled >= _previousLastInstalled, "Last_Installed never decreases");
        Invariant(_localAru >= _previousLocalAru, "Local_Aru never decreases");
        Invariant(!_history.Peek(_localAru + 1).IsOrdered, "Local_Aru stops only below an unordered slot");
        Invariant(_lastExecutedSequence == _localAru, "every slot up to Local_Aru is executed, and no other");
        Invariant(_updateQueue.Count <= _options.MaxUpdateQueueLength, "Update_Queue within its bound");
        Invariant(_pending.Count <= _pendingLimit, "Pending_Updates within its bound");
        Invariant(_inFlight.Count <= _window, "in-flight Proposals within the window");
        Invariant(_leaseEnd == 0 || (_state == ReplicaState.RegularLeader && _readRoundView == _lastInstalled.Value), "only the regular leader of its view holds a read lease");

        switch (_state)
        {
            case ReplicaState.RegularLeader:
                Invariant(IsLeaderOf(_lastInstalled), "a regular leader leads its installed view");
                Invariant(_lastInstalled == _lastAttempted, "a regular leader installed what it attempted");
                Invariant(_progressTimer.IsRunning, "a regular leader's Progress_Timer runs (G4)");
                Invariant(_lastProposed >= _localAru, "the leader proposed everything it executed");
                Invariant(_lastProposed - _localAru <= _window, "the leader keeps within its window");
                break;
            case ReplicaState.RegularNonLeader:
                Invariant(!IsLeaderOf(_lastInstalled), "a regular non-leader does not lead its view");
                Invariant(_lastInstalled == _lastAttempted, "a regular non-leader installed what it attempted");
                Invariant(_progressTimer.IsRunning, "a regular non-leader's Progress_Timer runs (G4)");
                Invariant(_updateQueue.Count == 0, "a non-leader's Update_Queue is empty");
                break;
            default:
                Invariant(_lastAttempted > _lastInstalled || IsLeaderOf(_lastInstalled), "in leader election, only a preparing leader has installed its attempt");
                break;
        }

        _previousLastInstalled = _lastInstalled;
        _previousLocalAru = _localAru;
    }

    private void Invariant([DoesNotReturnIf(false)] bool condition, string description)
    {
        if (!condition)
        {
            throw new PaxosInvariantException($"Replica {_id} broke an invariant: {description} (view {_lastInstalled}/{_lastAttempted}, state {_state}, aru {_localAru}).");
        }
    }
}
