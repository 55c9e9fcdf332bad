using System.Globalization;
using Paxos.Sample;

namespace Paxos.Crash.Tests;

/// <summary>
/// The properties the crash test asserts on the replicas' executed histories (TESTING.md level 4). Each returns
/// what is wrong, a line per problem (at most a few per replica), and nothing when the property holds.
/// </summary>
internal static class HistoryChecks
{
    private const int MaxPerReplica = 5;

    /// <summary>(1) Every replica's executed sequence is a prefix of one history: the same (sequence, client,
    /// timestamp) at every position, up to the shorter one's end.</summary>
    public static IEnumerable<string> PrefixesOfOneHistory(IReadOnlyList<List<ExecutedEntry>> histories)
    {
        var longest = Enumerable.Range(0, histories.Count).MaxBy(r => histories[r].Count);
        for (var r = 0; r < histories.Count; r++)
        {
            var (mine, theirs) = (histories[r], histories[longest]);
            for (var i = 0; i < mine.Count; i++)
            {
                if (mine[i] != theirs[i])
                {
                    yield return Say($"r{r} is not a prefix of r{longest}'s history: entry {i} is {Describe(mine[i])} on r{r} but {Describe(theirs[i])} on r{longest}");
                    break;
                }
            }
        }
    }

    /// <summary>(2) No (client, timestamp) executes twice on any replica.</summary>
    public static IEnumerable<string> ExactlyOnce(IReadOnlyList<List<ExecutedEntry>> histories)
    {
        for (var r = 0; r < histories.Count; r++)
        {
            var seen = new Dictionary<(long, long), long>();
            var reported = 0;
            foreach (var entry in histories[r])
            {
                if (!seen.TryAdd((entry.ClientId, entry.Timestamp), entry.Sequence) && reported++ < MaxPerReplica)
                {
                    yield return Say($"r{r} executed c{entry.ClientId}#{entry.Timestamp} twice: at {seen[(entry.ClientId, entry.Timestamp)]} and at {entry.Sequence}");
                }
            }
        }
    }

    /// <summary>(3) Every acknowledged update is in every replica's history, at the sequence its reply named.</summary>
    public static IEnumerable<string> AcknowledgedPresent(IReadOnlyList<List<ExecutedEntry>> histories, IEnumerable<Acknowledged> acknowledged)
    {
        var bySequence = histories.Select(BySequence).ToArray();
        var reported = new int[histories.Count];
        foreach (var ack in acknowledged)
        {
            for (var r = 0; r < histories.Count; r++)
            {
                var found = bySequence[r].TryGetValue(ack.Sequence, out var entry);
                if ((!found || entry.ClientId != ack.ClientId || entry.Timestamp != ack.Timestamp) && reported[r]++ < MaxPerReplica)
                {
                    yield return Say($"c{ack.ClientId}#{ack.Timestamp} was acknowledged at sequence {ack.Sequence}, but r{r} has {(found ? Describe(entry) : "nothing")} there");
                }
            }
        }
    }

    /// <summary>Validity and client order: every executed update is one a writer had acknowledged (a writer moves on
    /// only after an answer, and all of them ended answered), and each client's updates execute in timestamp order.</summary>
    public static IEnumerable<string> OnlyAcknowledgedInClientOrder(IReadOnlyList<List<ExecutedEntry>> histories, IEnumerable<Acknowledged> acknowledged)
    {
        var known = acknowledged.Select(a => (a.ClientId, a.Timestamp)).ToHashSet();
        for (var r = 0; r < histories.Count; r++)
        {
            var last = new Dictionary<long, long>();
            var reported = 0;
            foreach (var entry in histories[r])
            {
                var inOrder = !last.TryGetValue(entry.ClientId, out var previous) || entry.Timestamp > previous;
                last[entry.ClientId] = entry.Timestamp;
                if ((!known.Contains((entry.ClientId, entry.Timestamp)) || !inOrder) && reported++ < MaxPerReplica)
                {
                    yield return Say($"r{r} executed {Describe(entry)}, {(inOrder ? "which no writer was ever answered for" : Say($"after c{entry.ClientId}#{previous}"))}");
                }
            }
        }
    }

    /// <summary>Each replica executes in increasing sequence order (the executor's contract; no-op slots are skipped,
    /// so numbers may jump).</summary>
    public static IEnumerable<string> IncreasingSequences(IReadOnlyList<List<ExecutedEntry>> histories)
    {
        for (var r = 0; r < histories.Count; r++)
        {
            for (var i = 1; i < histories[r].Count; i++)
            {
                if (histories[r][i].Sequence <= histories[r][i - 1].Sequence)
                {
                    yield return Say($"r{r} executed {Describe(histories[r][i])} after {Describe(histories[r][i - 1])}");
                    break;
                }
            }
        }
    }

    private static Dictionary<long, ExecutedEntry> BySequence(List<ExecutedEntry> history)
    {
        var bySequence = new Dictionary<long, ExecutedEntry>(history.Count);
        foreach (var entry in history)
        {
            bySequence.TryAdd(entry.Sequence, entry); // A repeated sequence is reported by IncreasingSequences.
        }

        return bySequence;
    }

    private static string Describe(ExecutedEntry entry) => Say($"c{entry.ClientId}#{entry.Timestamp} at sequence {entry.Sequence}");

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
