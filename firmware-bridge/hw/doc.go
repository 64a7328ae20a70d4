// Package hw opens the gateway's real buses without cgo and without
// periph.io/x/host: I2C through the i2c-dev character device (I2C_RDWR
// ioctl, linux/i2c-dev.h), serial ports through termios (raw 8N1, 1 s read
// timeout), and GPIO lines through the GPIO character device v2 uAPI
// (GPIO_V2_GET_LINE_IOCTL and the line value ioctls, linux/gpio.h).
//
// The Linux implementations are in _linux.go files; elsewhere every opener
// returns ErrUnsupported. Host implements bridge.Hardware over them.
package hw
