using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using Paxos.Transport;

namespace Paxos.Tests.Hosting;

/// <summary><c>AddPaxos</c> under a real host, as a new user would try it: options come from the <c>Paxos</c> section
/// of the host's configuration, are checked when the host starts, and the host starts and stops the node.</summary>
public class AddPaxosHostTests
{
    /// <summary>A one-replica cluster that ticks fast, as configuration says it.</summary>
    private static readonly Dictionary<string, string?> OneReplica = new()
    {
        ["Paxos:ReplicaId"] = "0",
        ["Paxos:ClusterSize"] = "1",
        ["Paxos:TickInterval"] = "00:00:00.002",
    };

    [Test]
    public async Task AddPaxos_binds_the_Paxos_section_of_the_host_s_configuration_then_applies_the_code()
    {
        using var host = BuildHost(
            With(OneReplica, ("Paxos:MaxBatchUpdates", "7"), ("Paxos:LeaderSendsAccept", "true"), ("Paxos:ProposalRetransmitTicks", "12")),
            o => o.ProposalRetransmitTicks = 11);

        var options = host.Services.GetRequiredService<IOptions<PaxosOptions>>().Value;

        options.ClusterSize.Should().Be(1, "the section sets it");
        options.TickInterval.Should().Be(TimeSpan.FromMilliseconds(2));
        options.MaxBatchUpdates.Should().Be(7);
        options.LeaderSendsAccept.Should().BeTrue();
        options.ProposalRetransmitTicks.Should().Be(11, "the code's delegate runs after the binding");
        options.WindowSlots.Should().Be(new PaxosOptions().WindowSlots, "what the section leaves out keeps its default");
    }

    [Test]
    public async Task AddPaxos_without_code_runs_a_node_configured_by_the_section_alone()
    {
        using var host = BuildHost(OneReplica, add: static services => services.AddPaxos());
        var node = host.Services.GetRequiredService<PaxosNode>();

        await host.StartAsync();
        var reply = await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);

        Encoding.UTF8.GetString(reply.Span).Should().Be("1:1#1");
        await host.StopAsync();
    }

    [Test]
    public async Task AddPaxos_given_a_section_binds_that_one_instead()
    {
        var settings = OneReplica.ToDictionary(e => e.Key.Replace("Paxos:", "Cluster:Consensus:", StringComparison.Ordinal), e => e.Value);
        settings["Cluster:Consensus:MaxBatchUpdates"] = "9";
        settings["Paxos:MaxBatchUpdates"] = "8"; // Not this one.
        using var host = BuildHost(settings, add: static (services, configuration) =>
            services.AddPaxos(configuration.GetSection("Cluster:Consensus"), o => o.LeaderSendsAccept = true));

        var options = host.Services.GetRequiredService<IOptions<PaxosOptions>>().Value;

        options.ClusterSize.Should().Be(1);
        options.MaxBatchUpdates.Should().Be(9);
        options.LeaderSendsAccept.Should().BeTrue();
        await host.StartAsync();
        await host.StopAsync();
    }

    [Test]
    public async Task Starting_the_host_starts_the_node_and_a_one_replica_cluster_orders_a_submission()
    {
        using var host = BuildHost([], OneReplicaInCode); // Options in code: this is about the hosted service alone.
        var node = host.Services.GetRequiredService<PaxosNode>();

        await host.StartAsync();
        var reply = await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);

        Encoding.UTF8.GetString(reply.Span).Should().Be("1:1#1", "the update was ordered in slot 1 and executed");
        node.Status.State.Should().Be(ReplicaState.RegularLeader);
        await host.StopAsync();
    }

    [Test]
    public async Task Stopping_the_host_stops_the_node()
    {
        using var host = BuildHost([], OneReplicaInCode);
        var node = host.Services.GetRequiredService<PaxosNode>();
        await host.StartAsync();
        await node.SubmitAsync(new ClientUpdate(new ClientId(1), 1, new byte[] { 1 })).WaitAsync(NodeCluster.Patience);

        await host.StopAsync();

        var submit = () => node.SubmitAsync(new ClientUpdate(new ClientId(1), 2, new byte[] { 2 }));
        (await submit.Should().ThrowAsync<PaxosSubmitException>()).Which.Reason.Should().Be(SubmitFailure.Stopped);
        var restart = () => node.StartAsync();
        await restart.Should().ThrowAsync<InvalidOperationException>("the node was started once, by the host, and is stopped");
    }

    [Test]
    public async Task An_invalid_option_fails_the_host_s_start_with_a_message_naming_it([Values] bool fromConfiguration)
    {
        using var host = fromConfiguration
            ? BuildHost(With(OneReplica, ("Paxos:MaxBatchUpdates", "0")))
            : BuildHost(OneReplica, o => o.MaxBatchUpdates = 0);

        var start = () => host.StartAsync();

        (await start.Should().ThrowAsync<OptionsValidationException>()).Which.Message
            .Should().Contain("MaxBatchUpdates is 0");
    }

    private static void OneReplicaInCode(PaxosOptions options)
    {
        options.ClusterSize = 1;
        options.TickInterval = TimeSpan.FromMilliseconds(2);
    }

    private static Dictionary<string, string?> With(Dictionary<string, string?> settings, params (string Key, string Value)[] more)
    {
        var copy = new Dictionary<string, string?>(settings);
        foreach (var (key, value) in more)
        {
            copy[key] = value;
        }

        return copy;
    }

    private static IHost BuildHost(Dictionary<string, string?> settings, Action<PaxosOptions>? configure = null) =>
        BuildHost(settings, add: services => services.AddPaxos(configure ?? (static _ => { })));

    private static IHost BuildHost(Dictionary<string, string?> settings, Action<IServiceCollection> add) =>
        BuildHost(settings, add: (services, _) => add(services));

    /// <summary>A host as <c>Host.CreateApplicationBuilder()</c> makes it, with <paramref name="settings"/> on top of its
    /// configuration, an executor, the transport of a one-replica in-process network, and a clock that stands still
    /// (AddPaxos gives it to the node): one replica needs no tick, and a heartbeat's no-op, which a slow start could
    /// let the system clock propose first, would take slot 1.</summary>
    private static IHost BuildHost(Dictionary<string, string?> settings, Action<IServiceCollection, IConfiguration> add)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(settings);
        builder.Services
            .AddSingleton<IExecutor>(new RecordingExecutor())
            .AddSingleton(new InProcessNetwork(1).CreateTransport(new ReplicaId(0)))
            .AddSingleton<TimeProvider>(new FakeTimeProvider());
        add(builder.Services, builder.Configuration);
        return builder.Build();
    }
}
