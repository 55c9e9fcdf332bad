using System.Text;
using static System.FormattableString;

namespace Paxos.Benchmarks;

/// <summary>The soak's closing summary (printed and written to <c>summary.txt</c>): throughput, memory and disk over
/// time, the restarts and down windows, and the figures the issue's targets are judged by.</summary>
internal static class SoakSummary
{
    /// <summary>Throughput in the first seconds is the cluster warming up (JIT, first collections), and an event's
    /// effects last a while after it: both are left out of "normal" throughput.</summary>
    private const double SettleSeconds = 10;

    private const double RssTargetMiB = 128;
    private const double RestartTargetSeconds = 2;
    private const double DownTargetShare = 0.5;
    private const double DownTargetSeconds = 300;
    private const double RestartAfterTargetSeconds = 600;

    public static string Describe(IReadOnlyList<SoakSample> samples, IReadOnlyList<SoakChunk> chunks, IReadOnlyList<SoakRestart> restarts, SoakOptions options, string? stoppedEarly)
    {
        var text = new StringBuilder();
        var end = samples.Count > 0 ? samples[^1].ElapsedSeconds : 0;
        var replicas = samples.Count > 0 ? samples[0].Replicas.Count : options.Replica.Replicas;
        var mode = options.Durable ? "durable" : "in memory";
        text.AppendLine(Invariant($"Soak summary: {end:0.0} s of the {options.Seconds} s asked, {replicas} replicas, {options.Writers} writers, {mode}; a sample every {options.IntervalMillis} ms"));
        if (stoppedEarly is not null)
        {
            text.AppendLine($"  Stopped early: {stoppedEarly}");
        }

        // Throughput.
        var rates = samples.Where(s => s.UpdatesPerSecond is not null && s.ElapsedSeconds >= SettleSeconds).ToList();
        var quiet = rates.Where(s => !InEventWindow(s.ElapsedSeconds, options)).ToList();
        var all = rates.Select(s => s.UpdatesPerSecond!.Value).ToList();
        text.AppendLine(Invariant($"  Throughput (updates executed per second, per interval, from {SettleSeconds:0} s on): median {Cell(Median(all))}/s, min {Cell(Min(all))}, max {Cell(Max(all))}")
            + (options.Events.Count == 0 ? string.Empty : Invariant($"; away from the events (their windows and {SettleSeconds:0} s after): median {Cell(Median(quiet.Select(s => s.UpdatesPerSecond!.Value).ToList()))}/s")));
        if (chunks.Count > 0)
        {
            text.AppendLine(Invariant($"  Latency per SubmitAsync in the writers' process, over {chunks.Count} chunks: median p50 {Median(chunks.Select(c => c.Result.P50Nanos / 1e3).ToList()):N0} µs, median p99 {Median(chunks.Select(c => c.Result.P99Nanos / 1e3).ToList()):N0} µs, worst p99.9 {chunks.Max(c => c.Result.P999Nanos) / 1e3:N0} µs, max {chunks.Max(c => c.Result.MaxNanos) / 1e3:N0} µs; {chunks.Sum(c => c.Result.Failures):N0} failed submissions"));
        }

        // Memory and disk per replica.
        text.AppendLine(Invariant($"  Resident memory, MiB (idle = the sample at 0 s, before the load; steady = median of the second half; growth = least-squares slope over the second half):"));
        text.AppendLine("    replica   idle   steady      end      max   growth MiB/min");
        var steadyRss = new double?[replicas];
        var rssGrowth = new double?[replicas];
        for (var r = 0; r < replicas; r++)
        {
            var rss = Series(samples, r, x => x.RssMiB);
            var secondHalf = rss.Where(p => p.T >= end / 2).ToList();
            steadyRss[r] = secondHalf.Count > 0 ? Median(secondHalf.Select(p => p.V).ToList()) : null;
            rssGrowth[r] = Slope(secondHalf) * 60;
            text.AppendLine(Invariant($"    r{r,-6} {Cell(rss.Count > 0 ? rss[0].V : null),6} {Cell(steadyRss[r]),8} {Cell(rss.Count > 0 ? rss[^1].V : null),8} {Cell(rss.Count > 0 ? rss.Max(p => p.V) : null),8} {Signed(rssGrowth[r]),16}"));
        }

        var diskGrowth = new double?[replicas];
        var diskBounded = new List<string>();
        if (options.Durable)
        {
            text.AppendLine(Invariant($"  Data directory, MiB (sum of file lengths; growth = least-squares slope from {SettleSeconds:0} s on, and over the second half):"));
            text.AppendLine("    replica  start      end   growth MiB/min   2nd half MiB/min");
            for (var r = 0; r < replicas; r++)
            {
                var disk = Series(samples, r, x => x.DiskMiB);
                var settled = disk.Where(p => p.T >= SettleSeconds).ToList();
                var secondHalf = disk.Where(p => p.T >= end / 2).ToList();
                diskGrowth[r] = Slope(secondHalf) * 60;
                text.AppendLine(Invariant($"    r{r,-6} {Cell(disk.Count > 0 ? disk[0].V : null),6} {Cell(disk.Count > 0 ? disk[^1].V : null),8} {Signed(Slope(settled) * 60),16} {Signed(diskGrowth[r]),18}"));
                var firstHalfMax = disk.Where(p => p.T < end / 2).Select(p => p.V).DefaultIfEmpty(0).Max();
                var endValue = disk.Count > 0 ? disk[^1].V : 0;
                diskBounded.Add(Invariant($"r{r} {firstHalfMax:N0} → {endValue:N0} MiB ({Signed(diskGrowth[r])} MiB/min over the second half)"));
            }
        }

        // Events.
        foreach (var restart in restarts)
        {
            text.AppendLine(Invariant($"  {(restart.Event.IsDown ? "Rejoin" : "Restart")} of r{restart.Replica} (killed at {restart.KilledAt:0.0} s, started at {restart.StartedAt:0.0} s): ")
                + (restart.ReadySeconds is { } ready ? Invariant($"ready {ready:0.000} s after its start") : "did not start")
                + (restart.CaughtUpSeconds is { } caught ? Invariant($", caught up {caught:0.000} s after its start") : restart.Failure is { } failure ? $", {failure}" : string.Empty));
        }

        var windows = options.Events.Where(e => e.IsDown).Select(e => Down(e, samples, rates, restarts, options)).ToList();
        foreach (var w in windows)
        {
            text.AppendLine(Invariant($"  {w.Event.Who} down {w.Event.At:0.#}-{w.Event.Until:0.#} s ({w.Span:0.#} s): median {Cell(w.During)}/s while down, {Cell(w.Share * 100)} % of normal ({Cell(w.Before)}/s: the median of the {w.Span:0.#} s before, other events left out); lowest interval {Cell(w.Lowest)}/s; ")
                + (w.Rejoin?.CaughtUpSeconds is { } c ? Invariant($"rejoined: ready {w.Rejoin.ReadySeconds:0.000} s, caught up {c:0.000} s after its start") : $"did not rejoin ({w.Rejoin?.Failure ?? "no restart recorded"})"));
        }

        // The targets: the numbers, and what they say about each.
        text.AppendLine("  Targets (issue 16):");
        var shortRun = end < RestartAfterTargetSeconds ? Invariant($" [this run lasted {end:0} s; the targets are for 10 minutes]") : string.Empty;
        var writerNote = options.Writers == 64 ? string.Empty : Invariant($" [this run had {options.Writers} writers, the target 64]");
        var steadyText = string.Join(", ", steadyRss.Select((v, r) => Invariant($"r{r} {Cell(v)} MiB ({Signed(rssGrowth[r])} MiB/min)")));
        var rssMet = steadyRss.All(v => v is <= RssTargetMiB) && rssGrowth.All(g => g is <= 1);
        text.AppendLine($"    - steady-state RSS <= {RssTargetMiB:0} MiB per replica at 64 writers (met when every replica's second-half median is within it and grows <= 1 MiB/min): {steadyText} -> {(rssMet ? "met" : "NOT met")}{writerNote}{shortRun}");
        if (options.Durable)
        {
            // Bounded: the directory at the end is within one 64 MiB segment of the first half's largest.
            var bounded = samples.Count > 0 && Enumerable.Range(0, replicas).All(r =>
            {
                var disk = Series(samples, r, x => x.DiskMiB);
                return disk.Count == 0 || disk[^1].V <= disk.Where(p => p.T < end / 2).Select(p => p.V).DefaultIfEmpty(0).Max() + 64;
            });
            text.AppendLine($"    - disk bounded (the end within one 64 MiB segment of the first half's largest): {string.Join(", ", diskBounded)} -> {(bounded ? "no growth beyond a segment in this run" : "NOT bounded in this run")}{shortRun}");
        }
        else
        {
            text.AppendLine("    - disk bounded: not measured (in memory; add --durable)");
        }

        var plainRestarts = restarts.Where(r => !r.Event.IsDown).ToList();
        if (plainRestarts.Count == 0)
        {
            text.AppendLine("    - restart after 10 minutes of load <= 2 s: not measured (add --restart K@T)");
        }

        foreach (var restart in plainRestarts)
        {
            var verdict = restart.CaughtUpSeconds is { } c ? (c <= RestartTargetSeconds ? "met" : "NOT met") : "NOT met (did not catch up)";
            var early = restart.StartedAt < RestartAfterTargetSeconds ? Invariant($" [after {restart.StartedAt:0} s of load; the target is after 600 s]") : string.Empty;
            text.AppendLine(Invariant($"    - restart <= {RestartTargetSeconds:0} s: r{restart.Replica} ready {Cell(restart.ReadySeconds, "0.000")} s, caught up {Cell(restart.CaughtUpSeconds, "0.000")} s after its start -> {verdict}{early}"));
        }

        if (windows.Count == 0)
        {
            text.AppendLine("    - a replica down for 5 minutes rejoins, throughput >= 50 % of normal: not measured (add --down K@T1-T2)");
        }

        foreach (var w in windows)
        {
            var rejoined = w.Rejoin?.CaughtUpSeconds is not null;
            var met = w.Share >= DownTargetShare && rejoined;
            var shorter = w.Span < DownTargetSeconds ? Invariant($" [down {w.Span:0} s; the target is 300 s]") : string.Empty;
            text.AppendLine(Invariant($"    - {w.Event.Who} down, rejoins, throughput >= {DownTargetShare * 100:0} % of normal: {Cell(w.Share * 100)} % while down, {(rejoined ? "rejoined" : "did not rejoin")} -> {(met ? "met" : "NOT met")}{shorter}"));
        }

        return text.ToString();
    }

    /// <summary>A down window's figures: "before" is the median of the intervals in the window's length before it
    /// (normal throughput), "during" of the intervals wholly inside it.</summary>
    private static DownWindow Down(SoakEvent window, IReadOnlyList<SoakSample> samples, List<SoakSample> rates, IReadOnlyList<SoakRestart> restarts, SoakOptions options)
    {
        var span = window.Until - window.At;
        var interval = options.IntervalMillis / 1000.0;
        // Normal: the window's length before it, leaving out other events' windows; the whole run's quiet intervals
        // when nothing is left.
        var before = rates.Where(s => s.ElapsedSeconds <= window.At && s.ElapsedSeconds > window.At - span && !InEventWindow(s.ElapsedSeconds, options)).Select(s => s.UpdatesPerSecond!.Value).ToList();
        if (before.Count == 0)
        {
            before = [.. rates.Where(s => !InEventWindow(s.ElapsedSeconds, options)).Select(s => s.UpdatesPerSecond!.Value)];
        }

        var during = samples.Where(s => s.UpdatesPerSecond is not null && s.ElapsedSeconds - interval >= window.At - 1e-9 && s.ElapsedSeconds <= window.Until).Select(s => s.UpdatesPerSecond!.Value).ToList();
        var normal = Median(before);
        var down = Median(during);
        return new DownWindow(window, span, normal, down, normal is > 0 && down is { } d ? d / normal : null, Min(during), restarts.FirstOrDefault(r => r.Event == window));
    }

    private static bool InEventWindow(double t, SoakOptions options) =>
        options.Events.Any(e => t >= e.At && t <= e.Until + SettleSeconds);

    private static List<(double T, double V)> Series(IReadOnlyList<SoakSample> samples, int replica, Func<SoakReplicaSample, double?> value) =>
        [.. samples.Where(s => value(s.Replicas[replica]) is not null).Select(s => (s.ElapsedSeconds, value(s.Replicas[replica])!.Value))];

    /// <summary>The least-squares slope of <paramref name="points"/> (value per second), or null with fewer than two.</summary>
    public static double? Slope(IReadOnlyList<(double T, double V)> points)
    {
        if (points.Count < 2)
        {
            return null;
        }

        var meanT = points.Average(p => p.T);
        var meanV = points.Average(p => p.V);
        var sxx = points.Sum(p => (p.T - meanT) * (p.T - meanT));
        return sxx > 0 ? points.Sum(p => (p.T - meanT) * (p.V - meanV)) / sxx : null;
    }

    private static double? Median(List<double> values)
    {
        if (values.Count == 0)
        {
            return null;
        }

        values.Sort();
        return values.Count % 2 == 1 ? values[values.Count / 2] : (values[(values.Count / 2) - 1] + values[values.Count / 2]) / 2;
    }

    private static double? Min(List<double> values) => values.Count == 0 ? null : values.Min();

    private static double? Max(List<double> values) => values.Count == 0 ? null : values.Max();

    private static string Cell(double? value, string format = "N0") => value is { } v ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "-";

    private static string Signed(double? value) => value is { } v ? v.ToString("+#,0.0;-#,0.0;0.0", System.Globalization.CultureInfo.InvariantCulture) : "-";

    private sealed record DownWindow(SoakEvent Event, double Span, double? Before, double? During, double? Share, double? Lowest, SoakRestart? Rejoin);
}
