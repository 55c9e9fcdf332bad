using System.Globalization;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>The UDP load generator's table: per writer count, the median of the runs for each figure, with min–max.</summary>
internal static class UdpLoadReport
{
    public static void Print(List<(int Writers, List<RunResult> Runs)> table, UdpLoadOptions options)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant($"Median of {options.Runs} runs (min-max); latency per SubmitAsync inside the leader's process; peak memory = VmHWM"));
        Console.WriteLine("| writers | updates/s | p50 µs | p99 µs | p99.9 µs | leader peak MiB | max follower peak MiB |");
        Console.WriteLine("|--------:|----------:|-------:|-------:|---------:|----------------:|----------------------:|");
        foreach (var (writers, runs) in table)
        {
            if (writers == 0)
            {
                Console.WriteLine("| 0 | — (reads only) | — | — | — | " + Invariant($"{Figure(runs, r => r.PeakMemoryBytes[r.Leader] / (1024.0 * 1024), "N0")} | ")
                    + Invariant($"{Figure(runs, r => r.PeakMemoryBytes.Where((_, i) => i != r.Leader).DefaultIfEmpty(0).Max() / (1024.0 * 1024), "N0")} |"));
                continue;
            }

            Console.WriteLine(Invariant($"| {writers} | {Figure(runs, r => r.Load.UpdatesPerSecond, "N0")} | {Figure(runs, r => r.Load.P50Nanos / 1e3, "N0")} | ")
                + Invariant($"{Figure(runs, r => r.Load.P99Nanos / 1e3, "N0")} | {Figure(runs, r => r.Load.P999Nanos / 1e3, "N0")} | ")
                + Invariant($"{Figure(runs, r => r.PeakMemoryBytes[r.Leader] / (1024.0 * 1024), "N0")} | ")
                + Invariant($"{Figure(runs, r => r.PeakMemoryBytes.Where((_, i) => i != r.Leader).DefaultIfEmpty(0).Max() / (1024.0 * 1024), "N0")} |"));
        }

        if (options.Readers > 0)
        {
            Console.WriteLine();
            Console.WriteLine(Invariant($"Reads beside them: {options.Readers} readers at the leader, one ReadAsync outstanding each; latency inside the leader's process"));
            Console.WriteLine("| writers | reads/s | read p50 µs | read p99 µs | reads per update |");
            Console.WriteLine("|--------:|--------:|------------:|------------:|-----------------:|");
            foreach (var (writers, runs) in table)
            {
                // Without writers there are no updates to set the reads against.
                var perUpdate = writers == 0 ? "— (reads only)" : Figure(runs, r => r.Load.ReadsPerSecond / Math.Max(1, r.Load.UpdatesPerSecond), "0.0");
                Console.WriteLine(Invariant($"| {writers} | {Figure(runs, r => r.Load.ReadsPerSecond, "N0")} | {Figure(runs, r => r.Load.ReadP50Nanos / 1e3, "N0")} | ")
                    + Invariant($"{Figure(runs, r => r.Load.ReadP99Nanos / 1e3, "N0")} | {perUpdate} |"));
            }
        }

        if (options.Durable)
        {
            PrintStorage(table, options);
        }

        if (options.Floor)
        {
            PrintFloor(table, options);
        }
    }

    /// <summary>Each run against the floor measured right after it (<see cref="DurableFloor"/>): the share is the
    /// steadier figure, as the disk's pace drifts between minutes and moves both together.</summary>
    private static void PrintFloor(List<(int Writers, List<RunResult> Runs)> table, UdpLoadOptions options)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant($"Against the floor (leader + first follower flushing, no protocol) measured right after each run, median of {options.Runs} runs (min-max)"));
        Console.WriteLine("| writers | floor rounds/s | floor p50 µs | ceiling updates/s (rounds × writers) | share of the ceiling |");
        Console.WriteLine("|--------:|---------------:|-------------:|-------------------------------------:|---------------------:|");
        foreach (var (writers, runs) in table.Where(row => row.Writers > 0))
        {
            Console.WriteLine(Invariant($"| {writers} | {Figure(runs, r => r.Floor!.RoundsPerSecond, "N0")} | {Figure(runs, r => r.Floor!.P50Micros, "N0")} | ")
                + Invariant($"{Figure(runs, r => r.Floor!.RoundsPerSecond * writers, "N0")} | {Figure(runs, r => r.ShareOfFloor!.Value, "P0")} |"));
        }
    }

    /// <summary>The storage table of durable runs: per writer count, the leader and the followers (their mean), each
    /// figure the median of the runs over the measured interval.</summary>
    private static void PrintStorage(List<(int Writers, List<RunResult> Runs)> table, UdpLoadOptions options)
    {
        Console.WriteLine();
        Console.WriteLine(Invariant($"Storage over the measured interval, median of {options.Runs} runs (min-max); followers: the mean of the {options.Replicas - 1} non-leaders"));
        Console.WriteLine("| writers | replica | fsyncs/s | updates/fsync | mean fsync µs | MiB/s written |");
        Console.WriteLine("|--------:|:--------|---------:|--------------:|--------------:|--------------:|");
        foreach (var (writers, runs) in table)
        {
            foreach (var (label, pick) in new (string, Func<RunResult, IEnumerable<StorageFigures>>)[]
            {
                ("leader", r => [r.Storage![r.Leader]]),
                ("followers", r => r.Storage!.Where((_, i) => i != r.Leader)),
            })
            {
                Console.WriteLine(Invariant($"| {writers} | {label} | {Figure(runs, r => pick(r).Average(f => f.FsyncsPerSecond), "N0")} | ")
                    + Invariant($"{Figure(runs, r => pick(r).Average(f => f.UpdatesPerFsync), "0.0")} | {Figure(runs, r => pick(r).Average(f => f.MeanFsyncMicros), "N0")} | ")
                    + Invariant($"{Figure(runs, r => pick(r).Average(f => f.MiBPerSecond), "0.0")} |"));
            }
        }
    }

    /// <summary>"median (min–max)" of one figure over the runs.</summary>
    private static string Figure(List<RunResult> runs, Func<RunResult, double> figure, string format)
    {
        var values = runs.Select(figure).Order().ToArray();
        var median = values.Length % 2 == 1 ? values[values.Length / 2] : (values[(values.Length / 2) - 1] + values[values.Length / 2]) / 2;
        var text = median.ToString(format, CultureInfo.InvariantCulture);
        return values.Length == 1 ? text : $"{text} ({values[0].ToString(format, CultureInfo.InvariantCulture)}-{values[^1].ToString(format, CultureInfo.InvariantCulture)})";
    }
}
