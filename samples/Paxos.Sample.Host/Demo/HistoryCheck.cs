using System.Globalization;

namespace Paxos.Sample.Demo;

/// <summary>
/// The demo's final check on the replicas' histories of this run: they are one and the same history, each of this
/// run's updates executed once, and every acknowledged update executed at the sequence its answer named.
/// </summary>
internal static class HistoryCheck
{
    private const int MaxProblems = 5;

    /// <summary>What is wrong, in at most a few lines; empty when all is well.</summary>
    /// <param name="replicas">The replicas' ids, for the messages.</param>
    /// <param name="histories">Each replica's executed updates from the same sequence on.</param>
    /// <param name="answers">What the writers were told: (sequence, client, timestamp) of each acknowledged update.</param>
    /// <param name="firstClientId">This run's first client id.</param>
    /// <param name="clients">This run's number of clients.</param>
    public static List<string> Compare(int[] replicas, List<ExecutedEntry>[] histories, IEnumerable<ExecutedEntry> answers, long firstClientId, int clients)
    {
        var problems = new List<string>();
        for (var i = 1; i < histories.Length; i++)
        {
            if (FirstDifference(histories[0], histories[i]) is { } index)
            {
                Add(problems, Say($"r{replicas[i]} and r{replicas[0]} differ at entry {index} of this run: {Describe(histories[i], index)} against {Describe(histories[0], index)}"));
            }
        }

        var executed = new Dictionary<(long Client, long Timestamp), long>();
        foreach (var entry in histories[0])
        {
            if (entry.ClientId >= firstClientId && entry.ClientId < firstClientId + clients
                && !executed.TryAdd((entry.ClientId, entry.Timestamp), entry.Sequence))
            {
                Add(problems, Say($"c{entry.ClientId}#{entry.Timestamp} executed twice, at {executed[(entry.ClientId, entry.Timestamp)]} and {entry.Sequence}"));
            }
        }

        var acknowledged = 0;
        foreach (var answer in answers)
        {
            acknowledged++;
            if (!executed.TryGetValue((answer.ClientId, answer.Timestamp), out var sequence))
            {
                Add(problems, Say($"c{answer.ClientId}#{answer.Timestamp} was acknowledged at sequence {answer.Sequence} but is not in the history"));
            }
            else if (sequence != answer.Sequence)
            {
                Add(problems, Say($"c{answer.ClientId}#{answer.Timestamp} was acknowledged at sequence {answer.Sequence} but executed at {sequence}"));
            }
        }

        if (executed.Count != acknowledged)
        {
            Add(problems, Say($"{executed.Count:N0} updates of this run executed, but {acknowledged:N0} were acknowledged"));
        }

        return problems;
    }

    private static long? FirstDifference(List<ExecutedEntry> a, List<ExecutedEntry> b)
    {
        for (var i = 0; i < Math.Max(a.Count, b.Count); i++)
        {
            if (i >= a.Count || i >= b.Count || a[i] != b[i])
            {
                return i;
            }
        }

        return null;
    }

    private static string Describe(List<ExecutedEntry> history, long index) =>
        index < history.Count ? Say($"c{history[(int)index].ClientId}#{history[(int)index].Timestamp} at {history[(int)index].Sequence}") : "nothing";

    private static void Add(List<string> problems, string problem)
    {
        if (problems.Count < MaxProblems)
        {
            problems.Add(problem);
        }
    }

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
