//! Exact money: integer minor units of an ISO 4217 currency. Never floats.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("currency must be a three-letter ISO 4217 code")]
    Currency,
    #[error("amount {0:?} is not a decimal number")]
    NotDecimal(String),
    #[error("amount {amount} has more decimals than {currency} allows")]
    TooPrecise { amount: String, currency: Currency },
    #[error("amount is out of range")]
    Overflow,
    #[error("cannot combine {0} with {1}")]
    CurrencyMismatch(Currency, Currency),
}

/// ISO 4217 code, upper case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency([u8; 3]);

impl Currency {
    pub fn parse(raw: &str) -> Result<Self, MoneyError> {
        let bytes = raw.trim().as_bytes();
        match bytes {
            [a, b, c] if bytes.iter().all(u8::is_ascii_alphabetic) => {
                Ok(Self([a.to_ascii_uppercase(), b.to_ascii_uppercase(), c.to_ascii_uppercase()]))
            }
            _ => Err(MoneyError::Currency),
        }
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.0).expect("currency codes are ASCII")
    }

    /// Number of minor-unit digits (ISO 4217 exponent).
    pub fn exponent(&self) -> u32 {
        match self.code() {
            "BIF" | "CLP" | "DJF" | "GNF" | "ISK" | "JPY" | "KMF" | "KRW" | "PYG" | "RWF" | "UGX" | "UYI" | "VND"
            | "VUV" | "XAF" | "XOF" | "XPF" => 0,
            "BHD" | "IQD" | "JOD" | "KWD" | "LYD" | "OMR" | "TND" => 3,
            _ => 2,
        }
    }

    fn symbol(&self) -> Option<&'static str> {
        Some(match self.code() {
            "USD" => "$",
            "EUR" => "€",
            "GBP" => "£",
            "JPY" => "¥",
            "CAD" => "CA$",
            "AUD" => "A$",
            "CHF" => "CHF ",
            _ => return None,
        })
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl TryFrom<String> for Currency {
    type Error = MoneyError;
    fn try_from(raw: String) -> Result<Self, MoneyError> {
        Self::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Money {
    /// Amount in minor units (cents for USD).
    pub minor: i64,
    pub currency: Currency,
}

impl Money {
    pub fn zero(currency: Currency) -> Self {
        Self { minor: 0, currency }
    }

    /// Parses a decimal string such as `"404.95"` exactly.
    pub fn parse(amount: &str, currency: Currency) -> Result<Self, MoneyError> {
        let trimmed = amount.trim();
        let decimal = Decimal::from_str_exact(trimmed).map_err(|_| MoneyError::NotDecimal(trimmed.to_owned()))?;
        Self::from_decimal(decimal, currency)
    }

    pub fn from_decimal(decimal: Decimal, currency: Currency) -> Result<Self, MoneyError> {
        let normalized = decimal.normalize();
        if normalized.scale() > currency.exponent() {
            return Err(MoneyError::TooPrecise { amount: decimal.to_string(), currency });
        }
        let scaled =
            normalized.checked_mul(Decimal::from(10_i64.pow(currency.exponent()))).ok_or(MoneyError::Overflow)?;
        let minor = i64::try_from(scaled).map_err(|_| MoneyError::Overflow)?;
        Ok(Self { minor, currency })
    }

    pub fn to_decimal(&self) -> Decimal {
        Decimal::new(self.minor, self.currency.exponent())
    }

    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        if self.currency != other.currency {
            return Err(MoneyError::CurrencyMismatch(self.currency, other.currency));
        }
        let minor = self.minor.checked_add(other.minor).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency: self.currency })
    }

    pub fn checked_mul(self, quantity: u32) -> Result<Money, MoneyError> {
        let minor = self.minor.checked_mul(i64::from(quantity)).ok_or(MoneyError::Overflow)?;
        Ok(Money { minor, currency: self.currency })
    }
}

impl fmt::Display for Money {
    /// Customer-facing, in the messages' English: the symbol (or the code and a space), the
    /// whole units grouped by thousands with commas, and the currency's minor digits:
    /// `$1,404.95`, `€12.00`, `¥12,800`, `KWD 1,250.500`, `-$3.50`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let exponent = self.currency.exponent();
        // Unsigned, so that i64::MIN has a magnitude too.
        let units = self.minor.unsigned_abs();
        let scale = 10_u64.pow(exponent);
        let sign = if self.minor < 0 { "-" } else { "" };
        match self.currency.symbol() {
            Some(symbol) => write!(f, "{sign}{symbol}")?,
            None => write!(f, "{sign}{} ", self.currency)?,
        }
        write_grouped(f, units / scale)?;
        if exponent > 0 {
            write!(f, ".{:0width$}", units % scale, width = exponent as usize)?;
        }
        Ok(())
    }
}

/// `12800` as `12,800`: groups of three digits from the right.
fn write_grouped(f: &mut fmt::Formatter<'_>, whole: u64) -> fmt::Result {
    let digits = whole.to_string();
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            f.write_str(",")?;
        }
        write!(f, "{digit}")?;
    }
    Ok(())
}

impl FromStr for Currency {
    type Err = MoneyError;
    fn from_str(s: &str) -> Result<Self, MoneyError> {
        Self::parse(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn usd() -> Currency {
        Currency::parse("usd").unwrap()
    }

    #[test]
    fn parses_decimal_strings_exactly() {
        assert_eq!(Money::parse("404.95", usd()).unwrap().minor, 40495);
        assert_eq!(Money::parse("0.1", usd()).unwrap().minor, 10);
        assert_eq!(Money::parse("10", usd()).unwrap().minor, 1000);
        assert_eq!(Money::parse("19.990", usd()).unwrap().minor, 1999);
        assert_eq!(Money::parse("-5.00", usd()).unwrap().minor, -500);
    }

    #[test]
    fn float_sums_that_drift_stay_exact() {
        // 0.1 + 0.2 != 0.3 in f64; in minor units it is.
        let sum = Money::parse("0.1", usd()).unwrap().checked_add(Money::parse("0.2", usd()).unwrap()).unwrap();
        assert_eq!(sum, Money::parse("0.3", usd()).unwrap());
        let many =
            (0..1000).try_fold(Money::zero(usd()), |acc, _| acc.checked_add(Money::parse("0.01", usd()).unwrap()));
        assert_eq!(many.unwrap().minor, 1000);
    }

    #[test]
    fn rejects_sub_minor_precision_and_garbage() {
        assert!(matches!(Money::parse("1.005", usd()), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::parse("1.5", Currency::parse("JPY").unwrap()), Err(MoneyError::TooPrecise { .. })));
        assert!(matches!(Money::parse("abc", usd()), Err(MoneyError::NotDecimal(_))));
        assert!(matches!(Money::parse("1e3", usd()), Err(MoneyError::NotDecimal(_))));
        assert!(matches!(Money::parse("99999999999999999999", usd()), Err(MoneyError::Overflow)));
    }

    #[test]
    fn currencies_have_their_own_exponent() {
        assert_eq!(Money::parse("1500", Currency::parse("JPY").unwrap()).unwrap().minor, 1500);
        assert_eq!(Money::parse("1.250", Currency::parse("KWD").unwrap()).unwrap().minor, 1250);
        assert!(Currency::parse("US").is_err());
        assert!(Currency::parse("U$D").is_err());
    }

    #[test]
    fn mixing_currencies_is_an_error() {
        let eur = Money::parse("1", Currency::parse("EUR").unwrap()).unwrap();
        assert!(matches!(Money::zero(usd()).checked_add(eur), Err(MoneyError::CurrencyMismatch(..))));
    }

    #[test]
    fn displays_for_customers() {
        assert_eq!(Money::parse("404.95", usd()).unwrap().to_string(), "$404.95");
        assert_eq!(Money::parse("12", Currency::parse("EUR").unwrap()).unwrap().to_string(), "€12.00");
        assert_eq!(Money::parse("1.25", Currency::parse("KWD").unwrap()).unwrap().to_string(), "KWD 1.250");
        assert_eq!(Money::parse("1500", Currency::parse("JPY").unwrap()).unwrap().to_string(), "¥1,500");
        assert_eq!(Money::parse("-3.5", usd()).unwrap().to_string(), "-$3.50");
    }

    #[test]
    fn whole_units_are_grouped_by_thousands() {
        let shown =
            |amount: &str, code: &str| Money::parse(amount, Currency::parse(code).unwrap()).unwrap().to_string();
        assert_eq!(shown("12800", "JPY"), "¥12,800");
        assert_eq!(shown("999", "JPY"), "¥999");
        assert_eq!(shown("0", "JPY"), "¥0");
        assert_eq!(shown("1234567", "JPY"), "¥1,234,567");
        assert_eq!(shown("1234.56", "USD"), "$1,234.56");
        assert_eq!(shown("999.99", "USD"), "$999.99");
        assert_eq!(shown("1000000", "USD"), "$1,000,000.00");
        assert_eq!(shown("0.05", "USD"), "$0.05");
        assert_eq!(shown("1234.5", "EUR"), "€1,234.50");
        assert_eq!(shown("123456.78", "CHF"), "CHF 123,456.78");
        assert_eq!(shown("1234.567", "KWD"), "KWD 1,234.567");
        assert_eq!(shown("1000.005", "BHD"), "BHD 1,000.005");
        assert_eq!(shown("-1234.56", "USD"), "-$1,234.56");
        assert_eq!(shown("-12800", "JPY"), "-¥12,800");
        assert_eq!(shown("-1234.567", "KWD"), "-KWD 1,234.567");
        assert_eq!(shown("-0.01", "GBP"), "-£0.01");
        let extreme = Money { minor: i64::MIN, currency: usd() };
        assert_eq!(extreme.to_string(), "-$92,233,720,368,547,758.08");
    }

    #[test]
    fn multiplies_by_quantity() {
        assert_eq!(Money::parse("3.33", usd()).unwrap().checked_mul(3).unwrap().minor, 999);
    }
}
