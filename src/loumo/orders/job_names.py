"""The jobs `orders` defers for a package above it to handle (orders never imports payments):
the Payment service refunds what these orders had paid for."""

ORDER_CANCELLED_JOB = "order.cancelled"  # refund what a cancelled order had taken
ORDER_LINE_SHORT_JOB = "order.line_short"  # refund a line the shop could not serve
