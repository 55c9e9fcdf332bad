namespace Paxos.Transport.Udp;

/// <summary>
/// Lets through at most one log line per drop reason every <see cref="Interval"/>, and counts the lines it held
/// back so the next line can say how many. A flood of bad datagrams then costs a counter increment each, not a
/// log write each. Slots are the <see cref="UdpDropReason"/> values, plus <see cref="SocketErrorSlot"/>. Thread-safe.
/// </summary>
internal sealed class RateLimiter(TimeSpan interval)
{
    /// <summary>The slot of socket errors (no drop reason has the value 0).</summary>
    public const int SocketErrorSlot = 0;

    private readonly long _intervalMilliseconds = (long)interval.TotalMilliseconds;
    private readonly long[] _lastLogged = new long[Enum.GetValues<UdpDropReason>().Length + 1];
    private readonly long[] _suppressed = new long[Enum.GetValues<UdpDropReason>().Length + 1];

    public TimeSpan Interval => TimeSpan.FromMilliseconds(_intervalMilliseconds);

    /// <summary>Whether a line for <paramref name="slot"/> may be written now; if so, <paramref name="suppressed"/>
    /// is the number held back since the last one.</summary>
    public bool TryAcquire(int slot, out long suppressed)
    {
        suppressed = 0;
        var now = Environment.TickCount64;
        var last = Volatile.Read(ref _lastLogged[slot]);
        if ((last != 0 && now - last < _intervalMilliseconds)
            || Interlocked.CompareExchange(ref _lastLogged[slot], now, last) != last)
        {
            Interlocked.Increment(ref _suppressed[slot]);
            return false;
        }

        suppressed = Interlocked.Exchange(ref _suppressed[slot], 0);
        return true;
    }
}
