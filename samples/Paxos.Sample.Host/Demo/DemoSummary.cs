using System.Globalization;
using Paxos.Sample.Protocol;

namespace Paxos.Sample.Demo;

/// <summary>The demo's closing summary: what the clients saw, what every replica executed and stored, and the verdict.</summary>
internal static class DemoSummary
{
    public static void Print(DemoSettings settings, DemoWriters writers, TimeSpan duration, ReplicaStatusInfo?[] statuses, DemoEvents events, ConvergenceCheck check)
    {
        var latencies = writers.Latencies();
        var acknowledged = writers.Acknowledged;
        DemoConsole.Plain(string.Empty);
        DemoConsole.Plain("Summary");
        DemoConsole.Plain(Say($"  acknowledged   {acknowledged:N0} of {settings.Updates:N0} updates, from {settings.Writers} writers (one update outstanding each)"));
        DemoConsole.Plain(Say($"  re-submitted   {writers.Moves:N0} updates to another replica, same client id and timestamp"));
        DemoConsole.Plain(Say($"  throughput     {acknowledged / Math.Max(duration.TotalSeconds, 1e-9):N0} updates/s over {duration.TotalSeconds:0.00} s"));
        DemoConsole.Plain(Say($"  latency        p50 {Millis(latencies.Percentile(0.50))}  p99 {Millis(latencies.Percentile(0.99))}  max {Millis(latencies.Max)} (client side, re-submits included)"));
        for (var r = 0; r < statuses.Length; r++)
        {
            var line = statuses[r] is { } s ? Describe(s) : r == events.Killed ? "killed" : "did not answer";
            DemoConsole.Plain(Say($"  replica r{r}     {line}"));
            if (r == events.Killed)
            {
                var restarted = events.RestartedAt > TimeSpan.Zero ? Say($", restarted at {events.RestartedAt.TotalSeconds:0.0} s") : events.RestartFailure is null ? string.Empty : ", did NOT restart";
                DemoConsole.Plain(Say($"                 killed at {events.KilledAt.TotalSeconds:0.0} s (it was the leader){restarted}"));
            }

            if (statuses[r] is { } withStorage)
            {
                DemoConsole.Plain($"                 {DescribeStorage(withStorage.Storage)}");
            }
        }

        foreach (var failure in writers.Failures.Take(5))
        {
            DemoConsole.Plain($"  writer failed  {failure}");
        }

        DemoConsole.Plain(Verdict(check, writers.Failures.Count, events.RestartFailure));
    }

    private static string Describe(ReplicaStatusInfo s) =>
        Say($"executed {s.Executed:N0} updates (last sequence {s.LastExecutedSequence:N0}), digest {s.Digest:x16}, view {s.LastInstalled}{(s.IsLeader ? ", leader" : string.Empty)}, peak memory {s.PeakMemoryBytes / (1024.0 * 1024):N0} MiB");

    private static string DescribeStorage(StorageStatus storage) => storage.Durable
        ? Say($"log: {storage.ReplayedUpdates:N0} updates replayed at start; since then {storage.Fsyncs:N0} fsyncs (mean {(storage.Fsyncs > 0 ? storage.FsyncTimeTicks / 10.0 / storage.Fsyncs : 0):N0} µs), {storage.BatchesPersisted:N0} batches, {storage.BytesWritten / (1024.0 * 1024):0.0} MiB written")
        : "in memory: nothing survives the process";

    private static string Verdict(ConvergenceCheck check, int failures, string? restartFailure)
    {
        if (check.Passed && failures == 0 && restartFailure is null)
        {
            var first = check.Answered[0];
            return Say($"  check          PASSED: all {check.LiveReplicas} replicas executed the same {first.Executed:N0} updates in the same order (digest {first.Digest:x16}); this run's {check.Acknowledged:N0} acknowledged updates each executed once, at the sequence its answer named");
        }

        var counts = string.Join(", ", check.Answered.Select(s => Say($"r{s.Id} {s.Executed:N0}/{s.Digest:x16}")));
        var lines = new List<string>
        {
            Say($"  check          FAILED: {check.Answered.Length} of {check.LiveReplicas} live replicas answered ({counts}); {check.Acknowledged:N0} acknowledged; {failures} writer failures{(restartFailure is null ? string.Empty : "; the killed replica did not restart")}"),
        };
        lines.AddRange(check.Problems.Select(p => $"                 {p}"));
        return string.Join(Environment.NewLine, lines);
    }

    private static string Millis(long nanos) => Say($"{nanos / 1e6:0.00} ms");

    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
