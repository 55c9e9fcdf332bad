using System.Numerics;

namespace Paxos.Sample;

/// <summary>
/// A log-linear histogram of latencies in nanoseconds: exact below 128 ns, then 128 buckets per power of two
/// (under 1 % error), up to about 68 s. Fixed size and allocation-free on <see cref="Record"/>, so a writer can
/// keep one of its own and millions of samples cost nothing; merge them at the end.
/// </summary>
internal sealed class LatencyHistogram
{
    private const int SubBucketBits = 7;
    private const int SubBuckets = 1 << SubBucketBits;
    private const int MaxShift = 29; // 2^(29 + 7) ns ≈ 68 s; longer values land in the last bucket.

    private readonly long[] _counts = new long[(MaxShift + 2) * SubBuckets];

    public long Count { get; private set; }

    public long Max { get; private set; }

    public void Record(long nanos)
    {
        nanos = Math.Max(nanos, 0);
        _counts[Index(nanos)]++;
        Count++;
        Max = Math.Max(Max, nanos);
    }

    public void Add(LatencyHistogram other)
    {
        for (var i = 0; i < _counts.Length; i++)
        {
            _counts[i] += other._counts[i];
        }

        Count += other.Count;
        Max = Math.Max(Max, other.Max);
    }

    /// <summary>The value at quantile <paramref name="q"/> (0 to 1), as the middle of its bucket; 0 when empty.</summary>
    public long Percentile(double q)
    {
        if (Count == 0)
        {
            return 0;
        }

        var rank = (long)Math.Ceiling(Math.Clamp(q, 0, 1) * Count);
        long seen = 0;
        for (var i = 0; i < _counts.Length; i++)
        {
            seen += _counts[i];
            if (seen >= Math.Max(rank, 1))
            {
                return Math.Min(ValueOf(i), Max);
            }
        }

        return Max;
    }

    private static int Index(long value)
    {
        if (value < SubBuckets)
        {
            return (int)value;
        }

        // value >> shift lies in [SubBuckets, 2 * SubBuckets): its low bits pick the sub-bucket.
        var shift = 63 - BitOperations.LeadingZeroCount((ulong)value) - SubBucketBits;
        if (shift > MaxShift)
        {
            return ((MaxShift + 2) * SubBuckets) - 1;
        }

        return ((shift + 1) * SubBuckets) + (int)(value >> shift) - SubBuckets;
    }

    private static long ValueOf(int index)
    {
        if (index < SubBuckets)
        {
            return index;
        }

        var shift = (index / SubBuckets) - 1;
        var sub = (long)(index % SubBuckets) + SubBuckets;
        return (sub << shift) + ((1L << shift) / 2);
    }
}
