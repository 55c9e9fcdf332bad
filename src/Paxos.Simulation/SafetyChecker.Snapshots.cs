using Paxos.Protocol;

namespace Paxos.Simulation;

// Snapshots: a restored state must be the agreed history's prefix, and execution goes on from it.
public sealed partial class SafetyChecker
{
    /// <summary>
    /// A replica replaced its executor's state and client table with a snapshot's (at its restart, or installed from a
    /// peer): <paramref name="history"/> must be exactly the updates the agreed history executed up to the snapshot's
    /// sequence number — each at its slot, none twice, none skipped — and the client table must hold each client's last
    /// of them (a client it forgot executed nothing above its expiry mark). From then on the replica's executed prefix is
    /// that history: what follows must continue it without a gap, and nothing in it may execute again there.
    /// </summary>
    public void OnRestored(ReplicaId replica, SnapshotState state, IReadOnlyList<ExecutedUpdate> history)
    {
        ArgumentNullException.ThrowIfNull(state);
        ArgumentNullException.ThrowIfNull(history);
        var through = state.Sequence.Value;
        var keys = new HashSet<(long Client, long Timestamp)>();
        var last = new Dictionary<long, ExecutedUpdate>();
        var slots = new HashSet<long>();
        var previous = 0L;
        foreach (var update in history)
        {
            var key = (update.Client, update.Timestamp);
            if (update.Sequence <= previous || update.Sequence > through)
            {
                Fail(replica, $"snapshot restore: the history of the snapshot at {through} holds slot {update.Sequence} after slot {previous}");
            }

            if (!keys.Add(key))
            {
                Fail(replica, $"exactly-once: the snapshot at {through} executed c{update.Client}#{update.Timestamp} twice (again at {update.Sequence})");
            }

            if (!_submitted.TryGetValue(key, out var payload) || payload != update.PayloadDigest)
            {
                Fail(replica, $"validity: the snapshot at {through} executed c{update.Client}#{update.Timestamp} at {update.Sequence}, which no client submitted");
            }

            Agree(replica, update.Sequence, new UpdateKey(update.Client, update.Timestamp, update.PayloadDigest));
            if (_sequenceOf.TryGetValue(key, out var other) && other != update.Sequence)
            {
                Fail(replica, $"exactly-once: the snapshot at {through} executed c{update.Client}#{update.Timestamp} at {update.Sequence}, elsewhere at {other}");
            }

            if (_executedAt.TryGetValue(update.Sequence, out var executed) && !executed)
            {
                Fail(replica, $"execution agreement: the snapshot at {through} executed slot {update.Sequence}'s update, which did not execute elsewhere");
            }

            previous = update.Sequence;
            slots.Add(update.Sequence);
            last[update.Client] = update;
        }

        foreach (var (slot, executed) in _executedAt)
        {
            if (executed && slot <= through && !slots.Contains(slot))
            {
                Fail(replica, $"snapshot restore: the snapshot at {through} skipped slot {slot}, whose update {Describe(slot)} executed elsewhere");
            }
        }

        var inTable = new HashSet<long>();
        foreach (var entry in state.Clients)
        {
            inTable.Add(entry.Client.Value);
            if (CheckSessionRow(replica, through, entry))
            {
                continue;
            }

            if (!last.TryGetValue(entry.Client.Value, out var latest) || latest.Timestamp != entry.Timestamp || latest.Sequence != entry.Sequence.Value)
            {
                Fail(replica, $"client table: the snapshot at {through} says c{entry.Client.Value} last executed #{entry.Timestamp} at {entry.Sequence}, but its history says {(last.ContainsKey(entry.Client.Value) ? $"#{latest.Timestamp} at {latest.Sequence}" : "nothing")}");
            }

            if (entry.Result.Length >= 8 && BitConverter.ToInt64(entry.Result.Span[..8]) != entry.Sequence.Value)
            {
                Fail(replica, $"client table: the snapshot at {through} holds for c{entry.Client.Value} the reply of slot {BitConverter.ToInt64(entry.Result.Span[..8])}, not of {entry.Sequence}");
            }
        }

        foreach (var (client, latest) in last)
        {
            if (!inTable.Contains(client) && latest.Timestamp > state.ClientsExpiredThrough && !ClientSession.IsSessionId(new ClientId(client)))
            {
                Fail(replica, $"client table: the snapshot at {through} forgot c{client}, whose last update #{latest.Timestamp} is above its expiry mark {state.ClientsExpiredThrough}");
            }
        }

        var track = _replicas[replica.Value];
        track.ExecutedKeys.Clear();
        track.ExecutedKeys.UnionWith(keys);
        track.LastExecuted = through;
        track.RestoredThrough = through;
        if (track.LastOrdered != 0)
        {
            track.LastOrdered = Math.Max(track.LastOrdered, through);
        }
    }

    /// <summary>Checks a snapshot's row of a registration nonce (its reply names the session of its slot) or of a session
    /// that has executed nothing yet (timestamp 0 at its registration slot); true when the row was one of those.</summary>
    private bool CheckSessionRow(ReplicaId replica, long through, ClientTableEntry entry)
    {
        if (ClientSession.IsRegistrationNonce(entry.Client.Value))
        {
            if (entry.Timestamp != 1 || entry.Result.Length != 8 || BitConverter.ToInt64(entry.Result.Span) != (SessionBit | entry.Sequence.Value))
            {
                Fail(replica, $"client table: the snapshot at {through} holds registration {entry.Client.Value}#{entry.Timestamp} at {entry.Sequence} with a reply that is not the session of its slot");
            }

            return true;
        }

        if (ClientSession.IsSessionId(entry.Client) && entry.Timestamp == 0)
        {
            if (entry.Sequence.Value != (entry.Client.Value & ~SessionBit))
            {
                Fail(replica, $"client table: the snapshot at {through} holds session {entry.Client.Value} at {entry.Sequence}, not at its registration slot");
            }

            return true;
        }

        return false;
    }
}
