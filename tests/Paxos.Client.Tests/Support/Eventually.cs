using System.Diagnostics;

namespace Paxos.Client.Tests.Support;

/// <summary>Waits for a condition by polling it, up to a generous bound: tests wait on what they need to see,
/// never for a fixed time.</summary>
internal static class Eventually
{
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(20);

    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(5);

    /// <summary>Returns once <paramref name="condition"/> holds; fails the test with <paramref name="what"/> (and
    /// the optional <paramref name="state"/> description) if it does not within <paramref name="timeout"/>.</summary>
    public static async Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null, Func<string>? state = null)
    {
        var limit = timeout ?? DefaultTimeout;
        var clock = Stopwatch.StartNew();
        while (!condition())
        {
            if (clock.Elapsed > limit)
            {
                Assert.Fail($"Timed out after {limit.TotalSeconds:0.#} s waiting for: {what}{(state is null ? "" : $" ({state()})")}");
            }

            await Task.Delay(PollInterval);
        }
    }
}
