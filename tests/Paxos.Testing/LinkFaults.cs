using System.Globalization;

namespace Paxos.Testing;

/// <summary>
/// The faults a <see cref="UdpChaosProxy"/> applies to one directed link. Each datagram draws once for loss,
/// once for duplication, and once per copy for its delay; different delays reorder datagrams.
/// </summary>
/// <param name="LossProbability">The chance a datagram is dropped, from 0 to 1.</param>
/// <param name="DuplicateProbability">The chance a datagram that was not dropped is delivered twice, from 0 to 1.</param>
/// <param name="MinDelayMicros">The shortest delay, in microseconds.</param>
/// <param name="MaxDelayMicros">The longest delay, in microseconds; 0 forwards at once. Delays are served by a
/// timer with about a millisecond's resolution.</param>
/// <param name="Cut">Whether the link is cut (a partition): every datagram is dropped.</param>
public readonly record struct LinkFaults(
    double LossProbability = 0,
    double DuplicateProbability = 0,
    int MinDelayMicros = 0,
    int MaxDelayMicros = 0,
    bool Cut = false)
{
    /// <summary>A perfect link.</summary>
    public static LinkFaults None => default;

    /// <summary>Checks the ranges.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A probability is outside [0, 1] or a delay is negative or inverted.</exception>
    public void Validate()
    {
        if (LossProbability is < 0 or > 1 || double.IsNaN(LossProbability))
        {
            throw new ArgumentOutOfRangeException(nameof(LossProbability), LossProbability.ToString(CultureInfo.InvariantCulture), "A probability is from 0 to 1.");
        }

        if (DuplicateProbability is < 0 or > 1 || double.IsNaN(DuplicateProbability))
        {
            throw new ArgumentOutOfRangeException(nameof(DuplicateProbability), DuplicateProbability.ToString(CultureInfo.InvariantCulture), "A probability is from 0 to 1.");
        }

        if (MinDelayMicros < 0 || MaxDelayMicros < MinDelayMicros)
        {
            throw new ArgumentOutOfRangeException(nameof(MaxDelayMicros), "Delays must satisfy 0 ≤ MinDelayMicros ≤ MaxDelayMicros.");
        }
    }
}

/// <summary>A snapshot of a <see cref="UdpChaosProxy"/>'s counters.</summary>
/// <param name="Received">Datagrams the proxy read.</param>
/// <param name="Forwarded">Datagrams (copies included) it sent on.</param>
/// <param name="Lost">Datagrams dropped by a link's loss probability.</param>
/// <param name="CutDropped">Datagrams dropped because their link was cut.</param>
/// <param name="Duplicated">Datagrams delivered twice.</param>
/// <param name="Delayed">Copies that waited in the delay queue.</param>
/// <param name="Overflowed">Copies dropped because the delay queue was full.</param>
/// <param name="Unrouted">Datagrams from a source that is no replica (or to the sender itself).</param>
/// <param name="SendErrors">Copies the proxy's socket refused.</param>
public readonly record struct ChaosCounters(
    long Received,
    long Forwarded,
    long Lost,
    long CutDropped,
    long Duplicated,
    long Delayed,
    long Overflowed,
    long Unrouted,
    long SendErrors);
