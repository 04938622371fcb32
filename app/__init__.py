"""ansinh: cashless social-security disbursement that measures time to withdrawal."""
