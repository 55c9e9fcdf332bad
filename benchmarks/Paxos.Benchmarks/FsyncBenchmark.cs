using System.Diagnostics;
using System.Globalization;

namespace Paxos.Benchmarks;

/// <summary>
/// <c>--fsync [batches] [runs]</c>: what one durable batch costs the file log on this disk — 4 KiB appends, each a
/// batch that requires a sync, with and without preallocated segments. Prints the median of the runs' batches per
/// second and each run's per-batch latency percentiles; the disk, not the library, is what it measures.
/// </summary>
internal static class FsyncBenchmark
{
    /// <summary>A pending update's payload that makes each batch's bytes on disk exactly 4 KiB (batch record 25,
    /// record prefix 8, type 1, the update's own header 24).</summary>
    private const int PayloadBytes = 4096 - 25 - 8 - 1 - 24;

    public static int Run(int batches, int runs)
    {
        foreach (var preallocate in new[] { true, false })
        {
            var rates = new List<double>();
            foreach (var run in Enumerable.Range(1, runs))
            {
                var (rate, latencies, bytesPerBatch) = Measure(batches, preallocate);
                rates.Add(rate);
                Console.WriteLine(Say($"  preallocate={preallocate} run {run}/{runs}: {rate:N0} batches/s of {bytesPerBatch} bytes; per batch p50 {Percentiles.Of(latencies, 0.50):N0} µs, p99 {Percentiles.Of(latencies, 0.99):N0} µs, max {latencies[^1]:N0} µs"));
            }

            rates.Sort();
            Console.WriteLine(Say($"preallocate={preallocate}: median {rates[rates.Count / 2]:N0} fsynced 4 KiB appends/s (min {rates[0]:N0}, max {rates[^1]:N0}); {runs} runs of {batches:N0}"));
        }

        return 0;
    }

    private static (double Rate, double[] LatencyMicros, long BytesPerBatch) Measure(int batches, bool preallocate)
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


    private static string Say(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
