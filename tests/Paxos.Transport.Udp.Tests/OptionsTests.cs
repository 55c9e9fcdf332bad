using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Paxos.Messages;

namespace Paxos.Transport.Udp.Tests;

/// <summary>UdpTransportOptions: defaults, validation messages, binding from configuration strings, the
/// compatibility check with PaxosOptions and the DI registration.</summary>
[TestFixture]
public sealed class OptionsTests
{
    private static readonly string Key = Convert.ToBase64String(new byte[32]);

    [Test]
    public void Defaults_fit_an_ethernet_frame_and_the_default_paxos_message_size()
    {
        var options = Valid();
        options.MaxDatagramBytes.Should().Be(1472);
        options.MaxMessageBytes.Should().Be(1472 - 16 - 4);
        options.ReceiveBufferBytes.Should().Be(4 * 1024 * 1024);
        options.ClusterKey = Key;
        options.MaxMessageBytes.Should().Be(1472 - 16 - 32);
        new PaxosOptions().MaxMessageBytes.Should().BeLessThanOrEqualTo(options.MaxMessageBytes);
        options.ClusterSize.Should().Be(3);
    }

    [Test]
    public void MaxMessageBytes_is_capped_at_the_codecs_limit()
    {
        var options = Valid();
        options.MaxDatagramBytes = UdpTransportOptions.MaxDatagramBytesLimit;
        options.MaxMessageBytes.Should().Be(MessageSizes.MaxMessageBytes);
        options.MaxDatagramBytes = UdpTransportOptions.MinDatagramBytes;
        options.ClusterKey = Key;
        options.MaxMessageBytes.Should().BeGreaterThanOrEqualTo(MessageSizes.MinMessageBytes);
    }

    [Test]
    public void Valid_options_pass_and_the_own_entry_in_peers_is_ignored()
    {
        var options = Valid();
        options.Peers[0] = "not even an endpoint";
        Validate(options).Should().BeEmpty();
    }

    public static IEnumerable<TestCaseData> InvalidOptions()
    {
        yield return Invalid("MaxDatagramBytes too small", o => o.MaxDatagramBytes = 100, "MaxDatagramBytes is 100");
        yield return Invalid("MaxDatagramBytes too large", o => o.MaxDatagramBytes = 70_000, "MaxDatagramBytes is 70000");
        yield return Invalid("negative ReplicaId", o => o.ReplicaId = -1, "ReplicaId is -1");
        yield return Invalid("missing peer", o => o.Peers.Remove(1), "no endpoint for replica 1");
        yield return Invalid("peer without port", o => o.Peers[2] = "127.0.0.1", "Peers[2] is '127.0.0.1'");
        yield return Invalid("peer with port 0", o => o.Peers[2] = "127.0.0.1:0", "Peers[2] is '127.0.0.1:0'");
        yield return Invalid("peer IPv6 without brackets", o => o.Peers[2] = "::1:7000", "Peers[2] is '::1:7000'");
        yield return Invalid("duplicate peer endpoint", o => o.Peers[2] = o.Peers[1], "the same as Peers[1]");
        yield return Invalid("peer endpoint equal to the bind endpoint", o => o.BindEndpoint = "127.0.0.1:7001", "Peers[1] is '127.0.0.1:7001', this replica's own BindEndpoint ('127.0.0.1:7001')");
        yield return Invalid("peer localhost on the bind endpoint", o => (o.BindEndpoint, o.Peers[2]) = ("127.0.0.1:7003", "localhost:7003"), "Peers[2] is 'localhost:7003', this replica's own BindEndpoint");
        yield return Invalid("loopback peer on a wildcard bind's port", o => o.BindEndpoint = "0.0.0.0:7002", "Peers[2] is '127.0.0.1:7002', this replica's own BindEndpoint ('0.0.0.0:7002')");
        yield return Invalid("bad bind endpoint", o => o.BindEndpoint = "nowhere", "BindEndpoint is 'nowhere'");
        yield return Invalid("short key", o => o.ClusterKey = Convert.ToBase64String(new byte[8]), "ClusterKey decodes to 8 bytes");
        yield return Invalid("key not base64", o => o.ClusterKey = "not base64!", "ClusterKey is not valid base64");
        yield return Invalid("receive buffer too small", o => o.ReceiveBufferBytes = 1, "ReceiveBufferBytes is 1");
        yield return Invalid("send buffer too small", o => o.SendBufferBytes = 0, "SendBufferBytes is 0");
        yield return Invalid("pending bound zero", o => o.MaxPendingDatagramsPerPeer = 0, "MaxPendingDatagramsPerPeer is 0");
        yield return Invalid("replica id beyond 63", o => o.Peers[64] = "127.0.0.1:9999", "replica ids run from 0 to 63");
        yield return Invalid("negative peer id", o => o.Peers[-2] = "127.0.0.1:9999", "replica -2");
    }

    [TestCaseSource(nameof(InvalidOptions))]
    public void Each_invalid_option_fails_with_a_message_naming_it(Action<UdpTransportOptions> change, string expected)
    {
        var options = Valid();
        change(options);
        Validate(options).Should().Contain(f => f.Contains(expected, StringComparison.Ordinal));
        var build = () => new UdpTransport(options);
        build.Should().Throw<OptionsValidationException>();
    }

    [TestCase("127.0.0.1:7001", "127.0.0.1", 7001)]
    [TestCase("[::1]:7002", "::1", 7002)]
    [TestCase("localhost:7003", "127.0.0.1", 7003)]
    [TestCase("0.0.0.0:0", "0.0.0.0", 0)]
    public void Endpoints_parse_from_strings(string text, string address, int port)
    {
        var endpoint = UdpTransportOptions.ParseEndpoint(text);
        endpoint.Address.ToString().Should().Be(address);
        endpoint.Port.Should().Be(port);
    }

    [TestCase("127.0.0.1")]
    [TestCase("127.0.0.1:70000")]
    [TestCase(":7000")]
    [TestCase("")]
    public void Malformed_endpoints_are_refused(string text)
    {
        var parse = () => UdpTransportOptions.ParseEndpoint(text);
        parse.Should().Throw<FormatException>();
    }

    [Test]
    public void Options_bind_from_configuration_strings()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Paxos:Udp:ReplicaId"] = "1",
            ["Paxos:Udp:BindEndpoint"] = "127.0.0.1:7101",
            ["Paxos:Udp:Peers:0"] = "127.0.0.1:7100",
            ["Paxos:Udp:Peers:1"] = "127.0.0.1:7101",
            ["Paxos:Udp:Peers:2"] = "127.0.0.1:7102",
            ["Paxos:Udp:MaxDatagramBytes"] = "1400",
            ["Paxos:Udp:ClusterId"] = "42",
            ["Paxos:Udp:ClusterKey"] = Key,
            ["Paxos:Udp:MaxPendingDatagramsPerPeer"] = "4",
        }).Build();

        var options = configuration.GetSection(UdpTransportOptions.SectionName).Get<UdpTransportOptions>()!;

        Validate(options).Should().BeEmpty();
        options.ReplicaId.Should().Be(1);
        options.Peers.Should().HaveCount(3).And.ContainKey(2).WhoseValue.Should().Be("127.0.0.1:7102");
        options.ClusterId.Should().Be(42u);
        options.MaxMessageBytes.Should().Be(1400 - 16 - 32);
        options.MaxPendingDatagramsPerPeer.Should().Be(4);
    }

    [Test]
    public void CheckCompatible_requires_paxos_messages_to_fit_a_datagram_and_the_same_replica_and_cluster()
    {
        var udp = Valid();
        UdpTransport.CheckCompatible(new PaxosOptions(), udp);

        var check = () => UdpTransport.CheckCompatible(new PaxosOptions { MaxMessageBytes = 1453, ClusterSize = 5, ReplicaId = 2 }, udp);
        var failure = check.Should().Throw<OptionsValidationException>().Which;
        failure.Failures.Should().HaveCount(3);
        failure.Message.Should().Contain("PaxosOptions.MaxMessageBytes is 1453").And.Contain("UdpTransportOptions.MaxMessageBytes, 1452")
            .And.Contain("ClusterSize is 5").And.Contain("ReplicaId is 2");
    }

    [Test]
    public void CheckCompatible_requires_the_same_cluster_id()
    {
        var udp = Valid();
        udp.ClusterId = 42;

        var check = () => UdpTransport.CheckCompatible(new PaxosOptions { ClusterId = 41 }, udp);

        check.Should().Throw<OptionsValidationException>().WithMessage("*PaxosOptions.ClusterId is 41, but UdpTransportOptions.ClusterId is 42*");
        UdpTransport.CheckCompatible(new PaxosOptions { ClusterId = 42 }, udp);
    }

    [Test]
    public void Peers_that_resolve_to_one_endpoint_are_refused_when_the_transport_is_built()
    {
        // The validator compares text and resolves nothing; the transport compares resolved endpoints.
        var options = Valid();
        options.Peers[1] = "localhost:7001";
        options.Peers[2] = "127.0.0.1:7001";
        Validate(options).Should().BeEmpty();

        var build = () => new UdpTransport(options);

        build.Should().Throw<OptionsValidationException>().WithMessage("*Peers[2] and Peers[1] both resolve to 127.0.0.1:7001*");
    }

    [Test]
    public async Task AddPaxosUdpTransport_registers_the_transport_as_a_singleton_ITransport()
    {
        var services = new ServiceCollection();
        services.AddPaxosUdpTransport(o => Copy(Valid(), o));
        await using var provider = services.BuildServiceProvider();

        var transport = provider.GetRequiredService<ITransport>();
        transport.Should().BeOfType<UdpTransport>().And.BeSameAs(provider.GetRequiredService<UdpTransport>());
        provider.GetServices<IValidateOptions<UdpTransportOptions>>().Should().ContainSingle(v => v is UdpTransportOptionsValidator);
    }

    [Test]
    public async Task AddPaxosUdpTransport_validates_the_options_and_their_fit_with_configured_PaxosOptions()
    {
        var invalid = new ServiceCollection().AddPaxosUdpTransport(o => o.MaxDatagramBytes = 5);
        await using (var provider = invalid.BuildServiceProvider())
        {
            var resolve = () => provider.GetRequiredService<ITransport>();
            resolve.Should().Throw<OptionsValidationException>().WithMessage("*MaxDatagramBytes is 5*");
        }

        var mismatched = new ServiceCollection().AddPaxosUdpTransport(o => Copy(Valid(), o));
        mismatched.Configure<PaxosOptions>(o => o.MaxMessageBytes = 1460);
        await using (var provider = mismatched.BuildServiceProvider())
        {
            var resolve = () => provider.GetRequiredService<ITransport>();
            resolve.Should().Throw<OptionsValidationException>().WithMessage("*PaxosOptions.MaxMessageBytes is 1460*");
        }
    }

    private static UdpTransportOptions Valid() => new()
    {
        ReplicaId = 0,
        BindEndpoint = "127.0.0.1:0",
        Peers = { [1] = "127.0.0.1:7001", [2] = "127.0.0.1:7002" },
    };

    private static void Copy(UdpTransportOptions from, UdpTransportOptions to)
    {
        to.ReplicaId = from.ReplicaId;
        to.BindEndpoint = from.BindEndpoint;
        to.Peers = new Dictionary<int, string>(from.Peers);
    }

    private static IEnumerable<string> Validate(UdpTransportOptions options)
    {
        var result = new UdpTransportOptionsValidator().Validate(null, options);
        return result.Failed ? result.Failures : [];
    }

    private static TestCaseData Invalid(string name, Action<UdpTransportOptions> change, string expected) =>
        new TestCaseData(change, expected).SetArgDisplayNames(name);
}
