namespace Paxos.Protocol;

/// <summary>
/// A timeout counted in ticks (the TigerBeetle shape): start, stop, tick, fired. A timeout that fires is
/// stopped until something starts it again, so "fired and not re-armed" is visible in the code.
/// </summary>
internal struct Timeout
{
    private long _remaining;

    public Timeout(int durationTicks) => DurationTicks = durationTicks;

    /// <summary>How many ticks after <see cref="Start"/> the timeout fires.</summary>
    public int DurationTicks { get; set; }

    /// <summary>Whether the timeout is counting.</summary>
    public bool IsRunning { get; private set; }

    /// <summary>Starts (or restarts) the full duration.</summary>
    public void Start()
    {
        IsRunning = true;
        _remaining = DurationTicks;
    }

    /// <summary>Stops the timeout; it will not fire until started again.</summary>
    public void Stop() => IsRunning = false;

    /// <summary>The ticks left before it fires (0 when stopped): it fires at the tick that brings this to 0.</summary>
    public readonly long Remaining => IsRunning ? _remaining : 0;

    /// <summary>Counts <paramref name="ticks"/> ticks; returns true exactly when the timeout fires (and stops it). A
    /// timeout fires at most once however many ticks pass at a time.</summary>
    public bool Tick(int ticks = 1)
    {
        if (!IsRunning)
        {
            return false;
        }

        _remaining -= ticks;
        if (_remaining > 0)
        {
            return false;
        }

        IsRunning = false;
        return true;
    }
}

/// <summary>
/// PfSB's <c>Progress_Timer</c>: the failure detector. Its duration doubles at each preinstall (TR §5.3,
/// so that elections probe for a long enough timeout), is capped so a bound on recovery exists, and
/// returns to the base once the installed view makes progress (G5 in docs/protocol-notes.md).
/// </summary>
internal struct ProgressTimer
{
    private readonly int _baseTicks;
    private readonly int _maxTicks;
    private Timeout _timeout;

    public ProgressTimer(int baseTicks, int maxTicks)
    {
        _baseTicks = baseTicks;
        _maxTicks = maxTicks;
        _timeout = new Timeout(baseTicks);
    }

    public readonly bool IsRunning => _timeout.IsRunning;

    public readonly int DurationTicks => _timeout.DurationTicks;

    public void Start() => _timeout.Start();

    public void Stop() => _timeout.Stop();

    /// <inheritdoc cref="Timeout.Remaining"/>
    public readonly long Remaining => _timeout.Remaining;

    public bool Tick(int ticks) => _timeout.Tick(ticks);

    /// <summary>Doubles the duration, up to the cap (TR Fig. 6 B8).</summary>
    public void BackOff() => _timeout.DurationTicks = (int)Math.Min((long)_timeout.DurationTicks * 2, _maxTicks);

    /// <summary>Returns to the base duration after progress (G5); takes effect at the next start.</summary>
    public void ResetBackOff() => _timeout.DurationTicks = _baseTicks;
}
