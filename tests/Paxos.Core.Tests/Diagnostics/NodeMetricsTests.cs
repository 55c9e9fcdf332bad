using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;
using Paxos.Tests.Hosting;
using Paxos.Transport;

namespace Paxos.Tests.Diagnostics;

/// <summary>The node's instruments on the meter "Paxos.Core", observed through a <see cref="MeterListener"/> that
/// listens only to meters of the factory the test gave the node (other tests' nodes may run meanwhile).</summary>
public class NodeMetricsTests
{
    private static readonly string[] Instruments =
    [
        "paxos.updates.ordered", "paxos.proposals.sent", "paxos.proposals.retransmitted", "paxos.view_changes",
        "paxos.views.installed", "paxos.views.led", "paxos.messages.dropped", "paxos.inbox.dropped", "paxos.inbox.depth",
        "paxos.submit.duration", "paxos.storage.fsync.duration", "paxos.storage.fsync.updates",
    ];

    [Test]
    public async Task Every_instrument_reports_for_a_node_with_a_meter_factory()
    {
        var directory = Path.Combine(Path.GetTempPath(), "paxos-metrics-" + Guid.NewGuid().ToString("N"));
        try
        {
            using var factory = new TestMeterFactory();
            using var recorder = new Recorder(factory);
            var options = NodeCluster.Options(0, 1);
            options.DataDirectory = directory; // The file log, whose fsyncs are measured.

            // A clock that stands still: one replica needs no tick, and no heartbeat's no-op joins the counts below.
            await using var node = new PaxosNode(options, new RecordingExecutor(), new InProcessNetwork(1).CreateTransport(new ReplicaId(0)), timeProvider: new FakeTimeProvider(), meterFactory: factory);

            await node.StartAsync();
            for (var ts = 1; ts <= 5; ts++)
            {
                await node.SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { (byte)ts })).WaitAsync(NodeCluster.Patience);
            }

            var stale = () => node.SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 2 }));
            await stale.Should().ThrowAsync<PaxosSubmitException>();
            recorder.Listener.RecordObservableInstruments();

            recorder.Names.Should().BeEquivalentTo(Instruments, "each instrument reports");
            recorder.Last("paxos.updates.ordered").Should().Be(5);
            recorder.Last("paxos.proposals.sent").Should().BeInRange(1, 5);
            recorder.Last("paxos.view_changes").Should().BePositive("the replica started with an election");
            recorder.Last("paxos.views.installed").Should().BePositive();
            recorder.Last("paxos.views.led").Should().BePositive();
            recorder.Last("paxos.inbox.dropped").Should().Be(0);
            recorder.Last("paxos.inbox.depth").Should().BeGreaterThanOrEqualTo(0);
            recorder.Of("paxos.messages.dropped").Should().OnlyContain(m => m.Tags.ContainsKey("reason"), "one series per reason");

            var submits = recorder.Of("paxos.submit.duration");
            submits.Where(m => !m.Tags.ContainsKey("error.type")).Should().HaveCount(5).And.OnlyContain(m => m.Value > 0 && m.Value < 30);
            submits.Should().ContainSingle(m => Equals(m.Tags.GetValueOrDefault("error.type"), nameof(SubmitFailure.Stale)));
            recorder.Of("paxos.storage.fsync.duration").Should().NotBeEmpty().And.OnlyContain(m => m.Value >= 0 && m.Value < 30);
            recorder.Of("paxos.storage.fsync.updates").Sum(m => m.Value).Should().Be(5, "each update's Proposal is made durable once");
            recorder.All.Should().OnlyContain(m => Equals(m.Tags.GetValueOrDefault("replica"), 0), "every measurement names the replica");
        }
        finally
        {
            if (Directory.Exists(directory))
            {
                Directory.Delete(directory, recursive: true);
            }
        }
    }

    [Test]
    public async Task Views_proposals_and_drops_are_counted_per_replica_of_a_cluster()
    {
        using var factory = new TestMeterFactory();
        using var recorder = new Recorder(factory);
        await using var cluster = new NodeCluster(3, meterFactory: factory);
        var nodes = cluster.Nodes;
        await cluster.StartAsync();

        await cluster.LeaderAsync();
        for (var ts = 1; ts <= 10; ts++)
        {
            await cluster.TickUntilAsync(nodes[ts % 3].SubmitAsync(new ClientUpdate(new ClientId(1), ts, new byte[] { 1 })), $"the answer to c1#{ts}");
        }

        await cluster.TickUntilAsync(() => nodes.All(n => n.GetCounters().UpdatesExecuted == 10), "every replica to execute the updates");
        recorder.Listener.RecordObservableInstruments();

        var ordered = recorder.Of("paxos.updates.ordered");
        ordered.Select(m => m.Tags["replica"]).Should().BeEquivalentTo(new object[] { 0, 1, 2 });
        ordered.Should().OnlyContain(m => m.Value == 10);
        recorder.Of("paxos.views.led").Sum(m => m.Value).Should().BePositive("one of them won an election");
        recorder.Of("paxos.views.installed").Should().OnlyContain(m => m.Value > 0);
        recorder.Of("paxos.proposals.sent").Sum(m => m.Value).Should().BePositive();
        recorder.Of("paxos.messages.dropped").Sum(m => m.Value)
            .Should().Be(nodes.Sum(n => n.GetCounters().MessagesDropped), "the drops by reason add up to the replicas' counts");
    }

    [Test]
    public async Task Submissions_are_timed_only_while_the_histogram_is_listened_to()
    {
        using var factory = new TestMeterFactory();
        await using var node = new PaxosNode(NodeCluster.Options(0, 1), new RecordingExecutor(), new InProcessNetwork(1).CreateTransport(new ReplicaId(0)), meterFactory: factory);
        await node.StartAsync();
        var unheard = node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 }));

        using var recorder = new Recorder(factory);
        await node.SubmitAsync(new ClientUpdate(new ClientId(2), 1, new byte[] { 2 })).WaitAsync(NodeCluster.Patience);
        await unheard.WaitAsync(NodeCluster.Patience);

        recorder.Of("paxos.submit.duration").Should().ContainSingle("the first submission took no timestamp, as nobody listened");
    }

    [Test]
    public async Task AddPaxos_gives_the_node_the_host_s_meter_factory()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Services
            .AddSingleton<IExecutor>(new RecordingExecutor())
            .AddSingleton(new InProcessNetwork(1).CreateTransport(new ReplicaId(0)))
            .AddSingleton<TimeProvider>(new FakeTimeProvider()) // Stands still: no heartbeat's no-op is ordered too.
            .AddPaxos(o =>
            {
                o.ClusterSize = 1;
                o.TickInterval = TimeSpan.FromMilliseconds(2);
            });
        using var host = builder.Build();
        using var recorder = new Recorder(host.Services.GetRequiredService<IMeterFactory>());
        var node = host.Services.GetRequiredService<PaxosNode>();

        await host.StartAsync();
        await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);
        recorder.Listener.RecordObservableInstruments();
        await host.StopAsync();

        recorder.Last("paxos.updates.ordered").Should().Be(1);
        recorder.Of("paxos.submit.duration").Should().ContainSingle();
    }

    /// <summary>Collects every measurement of the meters <paramref name="factory"/> made.</summary>
    private sealed class Recorder : IDisposable
    {
        private readonly ConcurrentQueue<Measured> _measured = new();

        public Recorder(IMeterFactory factory)
        {
            Listener = new MeterListener
            {
                InstrumentPublished = (instrument, listener) =>
                {
                    if (instrument.Meter.Scope == factory && instrument.Meter.Name == "Paxos.Core")
                    {
                        listener.EnableMeasurementEvents(instrument);
                    }
                },
            };
            Listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Add(instrument, value, tags));
            Listener.SetMeasurementEventCallback<int>((instrument, value, tags, _) => Add(instrument, value, tags));
            Listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Add(instrument, value, tags));
            Listener.Start();
        }

        public MeterListener Listener { get; }

        public IReadOnlyCollection<Measured> All => _measured;

        public IEnumerable<string> Names => _measured.Select(m => m.Instrument).Distinct();

        public List<Measured> Of(string instrument) => _measured.Where(m => m.Instrument == instrument).ToList();

        public double Last(string instrument) => Of(instrument).Should().NotBeEmpty($"{instrument} reports").And.Subject.Last().Value;

        public void Dispose() => Listener.Dispose();

        private void Add(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var copied = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                copied[tag.Key] = tag.Value;
            }

            _measured.Enqueue(new Measured(instrument.Name, value, copied));
        }
    }

    private sealed record Measured(string Instrument, double Value, Dictionary<string, object?> Tags);

    /// <summary>What a host's factory does, without the hosting package: meters scoped to it, disposed with it.</summary>
    private sealed class TestMeterFactory : IMeterFactory
    {
        private readonly List<Meter> _meters = [];

        public Meter Create(MeterOptions options)
        {
            var meter = new Meter(options.Name, options.Version, options.Tags, scope: this);
            lock (_meters)
            {
                _meters.Add(meter);
            }

            return meter;
        }

        public void Dispose()
        {
            lock (_meters)
            {
                _meters.ForEach(m => m.Dispose());
            }
        }
    }
}
