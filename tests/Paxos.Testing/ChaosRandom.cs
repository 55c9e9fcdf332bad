namespace Paxos.Testing;

/// <summary>SplitMix64: a small seeded generator whose output depends only on its seed, on every machine and
/// .NET version, so a run's fault decisions replay exactly given the same order of events.</summary>
/// <param name="seed">The seed.</param>
public sealed class ChaosRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong Next()
    {
        var z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number from 0 to <paramref name="bound"/> − 1; 0 when <paramref name="bound"/> is not positive.</summary>
    public int Below(int bound) => bound <= 0 ? 0 : (int)(Next() % (ulong)bound);

    /// <summary>A number from <paramref name="low"/> to <paramref name="high"/>, both included.</summary>
    public int Between(int low, int high) => high <= low ? low : low + Below(high - low + 1);

    /// <summary>A number in [0, 1).</summary>
    public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

    /// <summary>True with probability <paramref name="probability"/> (0 never draws).</summary>
    public bool Chance(double probability) => probability > 0 && NextDouble() < probability;

    /// <summary>Fills <paramref name="bytes"/> with random bytes.</summary>
    public void Fill(Span<byte> bytes)
    {
        for (var i = 0; i < bytes.Length; i++)
        {
            bytes[i] = (byte)Next();
        }
    }
}
