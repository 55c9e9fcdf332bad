namespace Paxos.Testing;

/// <summary>Waits for a condition by polling it, up to a generous bound: tests wait on what they need to see,
/// never for a fixed time.</summary>
public static class Eventually
{
    /// <summary>How long a test waits for a condition unless it says otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test with <paramref name="what"/> (and
    /// the optional <paramref name="state"/> description) if it does not within <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        ArgumentNullException.ThrowIfNull(condition);
        var limit = timeout ?? DefaultTimeout;
        using var expired = new CancellationTokenSource(limit);
        while (!condition())
        {
            if (expired.IsCancellationRequested)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for: {what}{(state is null ? "" : $" ({state()})")}");
            }

            await Task.Delay(PollInterval, CancellationToken.None);
        }
    }
}
