namespace Paxos.Simulation;

/// <summary>
/// The simulator's own generator (SplitMix64): a seed gives the same sequence on every .NET version and
/// platform, which <see cref="Random"/> does not promise.
/// </summary>
public sealed class SimulationRandom
{
    private ulong _state;

    /// <summary>Creates a generator from a seed.</summary>
    public SimulationRandom(ulong seed) => _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextUInt64()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number from <paramref name="minInclusive"/> to <paramref name="maxExclusive"/> − 1.</summary>
    public int Next(int minInclusive, int maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxExclusive, minInclusive);
        return minInclusive + (int)(NextUInt64() % (ulong)(maxExclusive - minInclusive));
    }

    /// <summary>A number from <paramref name="minInclusive"/> to <paramref name="maxExclusive"/> − 1.</summary>
    public long NextInt64(long minInclusive, long maxExclusive)
    {
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(maxExclusive, minInclusive);
        return minInclusive + (long)(NextUInt64() % (ulong)(maxExclusive - minInclusive));
    }

    /// <summary>A number in [0, 1).</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True with probability <paramref name="probability"/>.</summary>
    public bool Chance(double probability) => probability > 0 && NextDouble() < probability;

    /// <summary>One element of <paramref name="items"/>, uniformly.</summary>
    public T Pick<T>(IReadOnlyList<T> items)
    {
        ArgumentNullException.ThrowIfNull(items);
        return items[Next(0, items.Count)];
    }

    /// <summary>A new generator whose sequence depends only on this one's next output.</summary>
    public SimulationRandom Fork() => new(NextUInt64());
}
