using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Paxos.Transport.Udp.Tests.Support;

namespace Paxos.Transport.Udp.Tests;

/// <summary>The transport's instruments on the meter "Paxos.Transport.Udp", observed through a MeterListener.</summary>
[TestFixture]
[NonParallelizable]
public sealed class MetricsTests
{
    [Test]
    public async Task Drops_and_deliveries_are_published_with_reason_and_replica_tags()
    {
        var measurements = new ConcurrentQueue<(string Instrument, long Value, string? Reason, object? Replica)>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == UdpTransport.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            string? reason = null;
            object? replica = null;
            foreach (var tag in tags)
            {
                reason = tag.Key == "reason" ? (string?)tag.Value : reason;
                replica = tag.Key == "replica" ? tag.Value : replica;
            }

            measurements.Enqueue((instrument.Name, value, reason, replica));
        });
        listener.Start();

        await using var harness = await RawHarness.StartAsync();
        var bad = harness.Frame(RawHarness.AliveFrom(1));
        bad[20] ^= 1;
        harness.Send(harness.Peer1, bad);
        harness.Send(harness.Peer1, harness.Frame(RawHarness.AliveFrom(1)));
        await Eventually.UntilAsync(() => harness.Receiver.Count == 1 && harness.Transport.Counters.DatagramsReceived == 2, "both datagrams read");

        var seen = measurements.ToArray();
        seen.Should().Contain(("paxos.udp.frames.dropped", 1L, "BadChecksum", 0));
        seen.Should().Contain(("paxos.udp.frames.received", 1L, null, 0));
        seen.Count(m => m.Instrument == "paxos.udp.datagrams.received").Should().Be(2);
    }
}
