namespace Paxos.Benchmarks;

/// <summary>Percentiles of sorted samples, the one way the benchmarks read them.</summary>
internal static class Percentiles
{
    /// <summary>The sample at fraction <paramref name="p"/> of <paramref name="sorted"/> (ascending); 0 when empty.</summary>
    public static double Of(IReadOnlyList<double> sorted, double p) =>
        sorted.Count == 0 ? 0 : sorted[Math.Min(sorted.Count - 1, (int)(p * sorted.Count))];
}
