using System.Diagnostics;
using Paxos.Protocol;
using Paxos.Storage;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>
/// <c>--fsync [batches] [runs]</c>: what one durable batch costs the file log on this disk — 4 KiB appends, each a
/// batch that requires a sync, with and without preallocated segments, then two and three preallocated logs
/// appending at once (the replicas of a cluster on one machine share its disk). Prints the median of the runs'
/// batches per second and each run's per-batch latency percentiles; the disk, not the library, is what it measures.
/// </summary>
/// <remarks>The concurrent rows show what one disk gives a cluster: a virtual disk serves its cache flushes largely
/// one after another, so logs flushing at once share about what one log gets alone, and every round of a cluster
/// that makes two copies durable pays for at least two of those flushes (three when every replica flushes).</remarks>
internal static class FsyncBenchmark
{
    /// <summary>A pending update's payload that makes each batch's bytes on disk exactly 4 KiB (batch record 25,
    /// record prefix 8, type 1, the update's own header 24).</summary>
    private const int PayloadBytes = 4096 - 25 - 8 - 1 - 24;

    /// <summary>How many logs append at once in the concurrent rows: the two copies a three-replica cluster orders
    /// with, and all three of its replicas.</summary>
    private static readonly int[] ConcurrentLogs = [2, 3];

    public static int Run(int batches, int runs)
    {
        foreach (var preallocate in new[] { true, false })
        {
            var rates = new List<double>();
            foreach (var run in Enumerable.Range(1, runs))
            {
                var (rate, latencies, bytesPerBatch) = Measure(batches, preallocate);
                rates.Add(rate);
                Console.WriteLine(Invariant($"  preallocate={preallocate} run {run}/{runs}: {rate:N0} batches/s of {bytesPerBatch} bytes; per batch p50 {Percentiles.Of(latencies, 0.50):N0} µs, p99 {Percentiles.Of(latencies, 0.99):N0} µs, max {latencies[^1]:N0} µs"));
            }

            rates.Sort();
            Console.WriteLine(Invariant($"preallocate={preallocate}: median {rates[rates.Count / 2]:N0} fsynced 4 KiB appends/s (min {rates[0]:N0}, max {rates[^1]:N0}); {runs} runs of {batches:N0}"));
        }

        foreach (var logCount in ConcurrentLogs)
        {
            var totals = new List<double>();
            foreach (var run in Enumerable.Range(1, runs))
            {
                var logs = MeasureConcurrent(logCount, batches);
                var total = logs.Sum(log => log.Rate);
                totals.Add(total);
                var each = string.Join(" / ", logs.Select(log => Invariant($"{log.Rate:N0} (p50 {Percentiles.Of(log.LatencyMicros, 0.50):N0} µs)")));
                Console.WriteLine(Invariant($"  {logCount} logs at once run {run}/{runs}: {total:N0} fsyncs/s in all; per log {each}"));
            }

            totals.Sort();
            var median = totals[totals.Count / 2];
            Console.WriteLine(Invariant($"{logCount} preallocated logs at once: median {median:N0} fsynced 4 KiB appends/s in all (min {totals[0]:N0}, max {totals[^1]:N0}), {median / logCount:N0} per log; {runs} runs of {batches:N0} per log"));
        }

        return 0;
    }

    /// <summary>Each of <paramref name="logCount"/> threads appends <paramref name="batches"/> batches to a
    /// preallocated log of its own, all starting together.</summary>
    private static (double Rate, double[] LatencyMicros, long BytesPerBatch)[] MeasureConcurrent(int logCount, int batches)
    {
        var results = new (double Rate, double[] LatencyMicros, long BytesPerBatch)[logCount];
        using var start = new Barrier(logCount);
        var threads = Enumerable.Range(0, logCount)
            .Select(i => new Thread(() => results[i] = Measure(batches, preallocate: true, start)) { Name = Invariant($"fsync log {i}") })
            .ToList();
        threads.ForEach(thread => thread.Start());
        threads.ForEach(thread => thread.Join());
        return results;
    }

    /// <summary>Appends <paramref name="batches"/> one-update batches to a fresh log, each persisted (and fsynced) on
    /// its own; with <paramref name="start"/>, the appends begin once every participant has its log open.</summary>
    private static (double Rate, double[] LatencyMicros, long BytesPerBatch) Measure(int batches, bool preallocate, Barrier? start = null)
    {
        var directory = Path.Combine(Path.GetTempPath(), "paxos-fsync-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var storage = new FileReplicaStorage(new FileReplicaStorageOptions
            {
                DataDirectory = directory,
                PreallocateSegments = preallocate,
                SegmentBytes = 64L << 20,
            });
            storage.LoadAsync().AsTask().GetAwaiter().GetResult();
            var payload = new byte[PayloadBytes];
            var latencies = new double[batches];
            start?.SignalAndWait();
            var started = Stopwatch.GetTimestamp();
            for (var i = 1; i <= batches; i++)
            {
                var batch = new OutputBatch(i);
                batch.AddPendingUpdate(new ClientUpdate(new ClientId(1 + (i % 7)), i, payload));
                var before = Stopwatch.GetTimestamp();
                storage.PersistAsync(batch).AsTask().GetAwaiter().GetResult();
                latencies[i - 1] = Stopwatch.GetElapsedTime(before).TotalMicroseconds;
            }

            var elapsed = Stopwatch.GetElapsedTime(started);
            Array.Sort(latencies);
            return (batches / elapsed.TotalSeconds, latencies, storage.Counters.BytesWritten / batches);
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }
}
