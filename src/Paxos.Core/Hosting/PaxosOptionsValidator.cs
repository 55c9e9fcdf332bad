using Microsoft.Extensions.Options;
using Paxos.Protocol;

namespace Paxos;

/// <summary>Validates <see cref="PaxosOptions"/>: the protocol's options by the rules of
/// <see cref="ProtocolOptionsValidator"/>, and the host's. Every failure names the option, its value and the allowed
/// range.</summary>
public sealed class PaxosOptionsValidator : IValidateOptions<PaxosOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, PaxosOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var failures = new List<string>();

        ProtocolOptionsValidator.AddFailures(failures, options.ToProtocolOptions());
        if (options.TickInterval < TimeSpan.FromMilliseconds(1) || options.TickInterval > TimeSpan.FromSeconds(10))
        {
            failures.Add(ProtocolOptionsValidator.Say($"{nameof(options.TickInterval)} is {options.TickInterval}; it must be from 1 ms to 10 s."));
        }

        if (options.ReadTimeout < TimeSpan.FromMilliseconds(1) || options.ReadTimeout > TimeSpan.FromHours(1))
        {
            failures.Add(ProtocolOptionsValidator.Say($"{nameof(options.ReadTimeout)} is {options.ReadTimeout}; it must be from 1 ms to 1 hour."));
        }

        if (!(options.MaxClockDrift >= 0 && options.MaxClockDrift <= 0.9))
        {
            failures.Add(ProtocolOptionsValidator.Say($"{nameof(options.MaxClockDrift)} is {options.MaxClockDrift}; it must be from 0 to 0.9 (a fraction: 0.01 is 1 %)."));
        }

        if (options.SubmitTimeout != System.Threading.Timeout.InfiniteTimeSpan
            && (options.SubmitTimeout < TimeSpan.FromMilliseconds(1) || options.SubmitTimeout > TimeSpan.FromDays(1)))
        {
            failures.Add(ProtocolOptionsValidator.Say($"{nameof(options.SubmitTimeout)} is {options.SubmitTimeout}; it must be from 1 ms to 1 day, or System.Threading.Timeout.InfiniteTimeSpan to wait for ever."));
        }

        ProtocolOptionsValidator.Range(failures, nameof(options.MaxInboxMessages), options.MaxInboxMessages, 16, 10_000_000);
        if (options.DataDirectory is { } directory && (directory.Length == 0 || directory.AsSpan().IndexOfAny(Path.GetInvalidPathChars()) >= 0))
        {
            failures.Add(ProtocolOptionsValidator.Say($"{nameof(options.DataDirectory)} is '{directory}'; it must be a valid directory path, or null to keep everything in memory."));
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    /// <summary>Throws <see cref="OptionsValidationException"/> listing every invalid option.</summary>
    /// <param name="options">The options to check.</param>
    public static void ThrowIfInvalid(PaxosOptions options)
    {
        var result = new PaxosOptionsValidator().Validate(Options.DefaultName, options);
        if (result.Failed)
        {
            throw new OptionsValidationException(Options.DefaultName, typeof(PaxosOptions), result.Failures);
        }
    }
}
