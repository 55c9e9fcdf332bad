using Microsoft.Extensions.Options;

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
    public void An_out_of_range_option_fails_with_a_message_naming_it(string option, int value)
    {
        var options = new PaxosOptions();
        typeof(PaxosOptions).GetProperty(option)!.SetValue(options, value);

        var act = () => new PaxosReplica(options, new NullExecutor());

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(option).And.Contain(value.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Test]
    public void A_bad_tick_interval_is_refused()
    {
        var options = new PaxosOptions { TickInterval = TimeSpan.Zero };

        var act = () => PaxosOptionsValidator.ThrowIfInvalid(options);

        act.Should().Throw<OptionsValidationException>().Which.Message.Should().Contain(nameof(PaxosOptions.TickInterval));
    }

    private sealed class NullExecutor : IExecutor
    {
        public ReadOnlyMemory<byte> Execute(in OrderedUpdate update) => ReadOnlyMemory<byte>.Empty;
    }
}
