using Microsoft.Extensions.Options;
using Paxos.Protocol;

namespace Paxos.Tests.Options;

public class PaxosOptionsTests
{
    [Test]
    public void Defaults_are_valid()
    {
        new PaxosOptionsValidator().Validate(null, new PaxosOptions()).Succeeded.Should().BeTrue();
    }

    [TestCase(nameof(PaxosOptions.ClusterSize), 0)]
    [TestCase(nameof(PaxosOptions.ClusterSize), 65)]
    [TestCase(nameof(PaxosOptions.ReplicaId), 3)]
    [TestCase(nameof(PaxosOptions.ReplicaId), -1)]
    [TestCase(nameof(PaxosOptions.ProgressTimeoutTicks), 3)]
    [TestCase(nameof(PaxosOptions.LeaderHeartbeatTicks), 50)]
    [TestCase(nameof(PaxosOptions.MaxProgressTimeoutTicks), 150)]
    [TestCase(nameof(PaxosOptions.MaxBatchUpdates), 0)]
    [TestCase(nameof(PaxosOptions.WindowSlots), 10)]
    [TestCase(nameof(PaxosOptions.MaxMessageBytes), 100)]
    [TestCase(nameof(PaxosOptions.MaxUpdateBytes), 1400)]
    [TestCase(nameof(PaxosOptions.MaxPendingUpdates), 0)]
    [TestCase(nameof(PaxosOptions.ClientExpirySlots), 0)]
    public void An_out_of_range_option_fails_with_a_message_naming_it(string option, int value)
    {
        var options = new PaxosOptions();
        typeof(PaxosOptions).GetProperty(option)!.SetValue(options, value);

        var act = () => new PaxosReplica(options.ToProtocolOptions(), new NullExecutor());

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(option).And.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Test]
    public void A_bad_tick_interval_is_refused()
    {
        var options = new PaxosOptions { TickInterval = TimeSpan.Zero };

        var act = () => PaxosOptionsValidator.ThrowIfInvalid(options);

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(nameof(PaxosOptions.TickInterval));
    }

    [Test]
    public void The_submit_timeout_is_from_1_ms_to_a_day_or_infinite()
    {
        new PaxosOptions().SubmitTimeout.Should().Be(TimeSpan.FromSeconds(10));
        foreach (var bad in new[] { TimeSpan.Zero, TimeSpan.FromTicks(-5), TimeSpan.FromDays(2) })
        {
            var act = () => PaxosOptionsValidator.ThrowIfInvalid(new PaxosOptions { SubmitTimeout = bad });
            act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(nameof(PaxosOptions.SubmitTimeout));
        }

        PaxosOptionsValidator.ThrowIfInvalid(new PaxosOptions { SubmitTimeout = System.Threading.Timeout.InfiniteTimeSpan });
    }

    [Test]
    public void The_protocol_defaults_are_valid_and_the_hosts_are_the_same()
    {
        new ProtocolOptionsValidator().Validate(null, new ProtocolOptions()).Succeeded.Should().BeTrue();
        new PaxosOptions().ToProtocolOptions().Should().BeEquivalentTo(new ProtocolOptions());
    }

    [Test]
    public void Every_protocol_option_is_bound_by_the_host_options_and_carried_to_the_replica()
    {
        var options = new PaxosOptions();
        foreach (var property in typeof(ProtocolOptions).GetProperties())
        {
            if (property.Name is nameof(ProtocolOptions.ReadTimeoutTicks) or nameof(ProtocolOptions.MaxClockDriftPpm))
            {
                continue; // Derived from the host's ReadTimeout and TickInterval, and MaxClockDrift: see the tests below.
            }

            var bound = typeof(PaxosOptions).GetProperty(property.Name);
            bound.Should().NotBeNull($"PaxosOptions, bound from configuration, carries {property.Name}");
            bound!.PropertyType.Should().Be(property.PropertyType);
            bound.SetValue(options, bound.GetValue(options) switch
            {
                bool flag => !flag,
                long number => number + 1,
                var number => (object)((int)number! + 1),
            });
        }

        var protocol = options.ToProtocolOptions();

        foreach (var property in typeof(ProtocolOptions).GetProperties().Where(p => p.Name is not (nameof(ProtocolOptions.ReadTimeoutTicks) or nameof(ProtocolOptions.MaxClockDriftPpm))))
        {
            property.GetValue(protocol).Should().Be(typeof(PaxosOptions).GetProperty(property.Name)!.GetValue(options), property.Name);
        }
    }

    [TestCase(10_000, 10, 1000)]
    [TestCase(25, 10, 3)]
    [TestCase(1, 10, 1)]
    public void The_read_timeout_becomes_whole_ticks_rounded_up(int timeoutMs, int tickMs, int expectedTicks)
    {
        var options = new PaxosOptions { ReadTimeout = TimeSpan.FromMilliseconds(timeoutMs), TickInterval = TimeSpan.FromMilliseconds(tickMs) };
        options.ToProtocolOptions().ReadTimeoutTicks.Should().Be(expectedTicks);
    }

    [TestCase(0.01, 10_000)]
    [TestCase(0.0, 0)]
    [TestCase(0.0000011, 2)]
    [TestCase(0.9, 900_000)]
    public void The_clock_drift_becomes_millionths_rounded_up(double drift, int expectedPpm) =>
        new PaxosOptions { MaxClockDrift = drift }.ToProtocolOptions().MaxClockDriftPpm.Should().Be(expectedPpm);

    [TestCase(-0.001)]
    [TestCase(0.91)]
    [TestCase(double.NaN)]
    [TestCase(double.PositiveInfinity)]
    public void A_clock_drift_out_of_range_is_named(double drift)
    {
        var result = new PaxosOptionsValidator().Validate(null, new PaxosOptions { MaxClockDrift = drift });
        result.Failed.Should().BeTrue();
        result.Failures.Should().ContainSingle().Which.Should().Contain(nameof(PaxosOptions.MaxClockDrift));
    }

    [Test]
    public void A_read_timeout_out_of_range_is_named()
    {
        var result = new PaxosOptionsValidator().Validate(null, new PaxosOptions { ReadTimeout = TimeSpan.Zero });
        result.Failed.Should().BeTrue();
        result.FailureMessage.Should().Contain(nameof(PaxosOptions.ReadTimeout));
    }

    private sealed class NullExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => ReadOnlyMemory<byte>.Empty;
    }
}
