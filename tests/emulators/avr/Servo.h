/* Servo.h - a do-nothing Servo class so StandardFirmata builds for the simulated Uno without the
 * Arduino Servo library (Debian ships none); servo pins are not exercised by the tests. */
#ifndef LB_AVR_SERVO_STUB_H
#define LB_AVR_SERVO_STUB_H
#include <inttypes.h>
#define MAX_SERVOS 12
class Servo
{
      public:
	uint8_t attach(int pin)
	{
		return attach(pin, 544, 2400);
	}
	uint8_t attach(int pin, int, int)
	{
		pin_ = pin;
		return 0;
	}
	void detach()
	{
		pin_ = -1;
	}
	void write(int v)
	{
		value_ = v;
	}
	void writeMicroseconds(int v)
	{
		value_ = v;
	}
	int read()
	{
		return value_;
	}
	bool attached()
	{
		return pin_ >= 0;
	}

      private:
	int pin_ = -1;
	int value_ = 0;
};
#endif
